/**
 * Recognises Syncline's own storage writes in the WAL stream when the storage database is the
 * source database: changes to relations of the storage schema are dropped, and a transaction that
 * wrote nothing else gets no checkpoint (each checkpoint is itself a storage write, so
 * checkpointing those transactions would loop forever). Pure: fed with decoded messages.
 */
export class StorageEchoFilter {
  private readonly relations = new Set<number>();
  private ownChanges = false;
  private otherChanges = false;

  /** `schema`: the storage schema when storage is the source database, else null (filters nothing). */
  constructor(private readonly schema: string | null) {}

  /** At BEGIN. */
  begin(): void {
    this.ownChanges = false;
    this.otherChanges = false;
  }

  /** A Relation message; true when the relation belongs to storage and must be ignored. */
  relation(relationOid: number, schema: string): boolean {
    if (this.schema !== null && schema === this.schema) {
      this.relations.add(relationOid);
      return true;
    }
    this.relations.delete(relationOid);
    return false;
  }

  /** A row change or truncate of a relation; true when it is a storage write to ignore. */
  change(relationOid: number): boolean {
    if (this.relations.has(relationOid)) {
      this.ownChanges = true;
      return true;
    }
    this.otherChanges = true;
    return false;
  }

  /** At COMMIT: true when the transaction only wrote storage (no checkpoint, no transaction count). */
  commitIsEcho(): boolean {
    return this.ownChanges && !this.otherChanges;
  }
}
