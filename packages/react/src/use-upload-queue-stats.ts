/**
 * `useUploadQueueStats`: how many local writes are waiting in the upload queue (and their size),
 * re-read whenever the queue changes — a local write adds to it, a completed upload removes from
 * it. For "3 changes not uploaded yet" indicators; `undefined` until the first read.
 *
 * @example
 * const queue = useUploadQueueStats();
 * return queue && queue.count > 0 ? <span>{queue.count} changes not uploaded yet</span> : null;
 */
import { useEffect, useState } from 'react';
import type { UploadQueueStats } from '@syncline/client';
import { useSyncline } from './syncline-context.ts';

/** The queue table's change name, announced after every local write and every completed upload. */
const QUEUE_TABLE = 'sl_crud';

export function useUploadQueueStats(): UploadQueueStats | undefined {
  const db = useSyncline();
  const [stats, setStats] = useState<UploadQueueStats | undefined>(undefined);
  useEffect(() => {
    let stopped = false;
    let running = false;
    let again = false;
    // One read at a time; changes during a read cause exactly one more read after it.
    const read = async (): Promise<void> => {
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        do {
          again = false;
          const next = await db.getUploadQueueStats().catch(() => undefined);
          if (stopped) return;
          if (next) setStats((prev) => (prev && prev.count === next.count && prev.size === next.size ? prev : next));
        } while (again && !stopped);
      } finally {
        running = false;
      }
    };
    const off = db.onChange([QUEUE_TABLE], () => void read());
    void read();
    return () => {
      stopped = true;
      off();
    };
  }, [db]);
  return stats;
}
