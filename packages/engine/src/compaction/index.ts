/** Compaction and defragmentation of bucket op-logs and the parameter index (reference §9). */
export * from './compaction-errors.ts';
export { planMoves, planClear, newMoveState, rowKey, keyHash, type ScanOp, type PlannedMove, type PlannedClear, type MoveState } from './compaction-plan.ts';
export * from './bucket-compactor.ts';
export * from './parameter-compactor.ts';
export * from './compaction-run.ts';
export * from './defragment.ts';
export * from './compactor.ts';
export { withCompactionLock } from './compaction-storage.ts';
