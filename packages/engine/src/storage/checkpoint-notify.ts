/** LISTEN/NOTIFY channel on the storage database announcing new checkpoints and activations. */
export const CHECKPOINT_CHANNEL = 'syncline_checkpoints';

export interface CheckpointNotification {
  version: number;
  op_id: string;
  lsn: string;
  activated: boolean;
}
