'use client';
/**
 * Editor for a list of Sync Streams subscriptions as a client sends them: stream name, JSON
 * parameters (`subscription.parameters()`), optional override priority. The list index is the
 * subscription's id (`sub i` in reasons and errors). Used by user inspection and impact preview.
 */
import { Button, inputClass, parseJsonObject } from './ui.tsx';

export interface SubscriptionDraft {
  stream: string;
  /** JSON object text; empty = no parameters (`null` on the wire → `{}`). */
  parameters: string;
  /** '' = the stream's priority. */
  priority: '' | '0' | '1' | '2' | '3';
}

export interface Subscription {
  stream: string;
  parameters: Record<string, unknown> | null;
  overridePriority: 0 | 1 | 2 | 3 | null;
}

export const emptySubscription = (): SubscriptionDraft => ({ stream: '', parameters: '', priority: '' });

/** Validated subscriptions (rows without a stream name are skipped); throws a readable error. */
export function toSubscriptions(drafts: readonly SubscriptionDraft[]): Subscription[] {
  return drafts
    .map((d, i) => ({ d, i }))
    .filter(({ d }) => d.stream.trim() !== '')
    .map(({ d, i }) => ({
      stream: d.stream.trim(),
      parameters: d.parameters.trim() ? parseJsonObject(d.parameters, `Parameters of subscription ${i + 1}`) : null,
      overridePriority: d.priority === '' ? null : (Number(d.priority) as 0 | 1 | 2 | 3),
    }));
}

export function SubscriptionList({ value, onChange, testId = 'subscription-list' }: { value: SubscriptionDraft[]; onChange: (v: SubscriptionDraft[]) => void; testId?: string }) {
  const set = (i: number, patch: Partial<SubscriptionDraft>) => onChange(value.map((d, j) => (j === i ? { ...d, ...patch } : d)));
  return (
    <div className="space-y-1 text-xs" data-testid={testId}>
      {value.map((d, i) => (
        <div key={i} className="flex flex-wrap items-center gap-1">
          <span className="w-12 font-mono text-zinc-500" title="Subscription id (reason `sub i`)">
            sub {i}
          </span>
          <input aria-label={`Subscription ${i + 1} stream`} placeholder="stream" value={d.stream} onChange={(e) => set(i, { stream: e.target.value })} className={`${inputClass} w-40 font-mono`} />
          <input
            aria-label={`Subscription ${i + 1} parameters`}
            placeholder='parameters, e.g. {"list_id": "l1"}'
            value={d.parameters}
            onChange={(e) => set(i, { parameters: e.target.value })}
            className={`${inputClass} w-64 font-mono`}
          />
          <select aria-label={`Subscription ${i + 1} priority`} value={d.priority} onChange={(e) => set(i, { priority: e.target.value as SubscriptionDraft['priority'] })} className={inputClass}>
            <option value="">stream priority</option>
            {(['0', '1', '2', '3'] as const).map((p) => (
              <option key={p} value={p}>
                override {p}
              </option>
            ))}
          </select>
          <Button onClick={() => onChange(value.filter((_, j) => j !== i))} aria-label={`Remove subscription ${i + 1}`}>
            ✕
          </Button>
        </div>
      ))}
      <Button onClick={() => onChange([...value, emptySubscription()])}>Add subscription</Button>
    </div>
  );
}
