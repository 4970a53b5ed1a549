'use client';
/**
 * Sample users for the impact preview: user ids (comma-separated), optional extra claims, and the
 * stream subscriptions each sends, so the preview counts per stream what these users would sync.
 */
import { useState } from 'react';
import { SubscriptionList, toSubscriptions, type SubscriptionDraft } from '@/components/subscription-list.tsx';
import { inputClass, parseJsonObject } from '@/components/ui.tsx';

export interface SampleUser {
  userId: string;
  claims: Record<string, unknown>;
  subscriptions: ReturnType<typeof toSubscriptions>;
  includeDefaults: boolean;
}

export interface ImpactSamplesState {
  users: string;
  claims: string;
  subscriptions: SubscriptionDraft[];
  includeDefaults: boolean;
}

export function useImpactSamples() {
  return useState<ImpactSamplesState>({ users: '', claims: '', subscriptions: [], includeDefaults: true });
}

/** The sample users to send (empty when none are entered); throws a readable error on bad JSON. */
export function sampleUsers(s: ImpactSamplesState): SampleUser[] {
  const ids = [...new Set(s.users.split(',').map((u) => u.trim()).filter(Boolean))];
  if (ids.length === 0) return [];
  if (ids.length > 20) throw new Error('At most 20 sample users per preview.');
  const claims = parseJsonObject(s.claims, 'Sample claims');
  const subscriptions = toSubscriptions(s.subscriptions);
  return ids.map((userId) => ({ userId, claims, subscriptions, includeDefaults: s.includeDefaults }));
}

export function ImpactSamples({ value, onChange }: { value: ImpactSamplesState; onChange: (v: ImpactSamplesState) => void }) {
  return (
    <details className="mt-3 text-xs" data-testid="impact-samples">
      <summary className="cursor-pointer text-zinc-600">Sample users and subscriptions for the impact preview (per stream)</summary>
      <div className="mt-2 space-y-2">
        <div className="flex flex-wrap items-center gap-2">
          <input aria-label="Sample user ids" placeholder="user ids, comma-separated (JWT sub)" value={value.users} onChange={(e) => onChange({ ...value, users: e.target.value })} className={`${inputClass} w-64 font-mono`} />
          <input aria-label="Sample claims" placeholder='extra claims, e.g. {"role": "admin"}' value={value.claims} onChange={(e) => onChange({ ...value, claims: e.target.value })} className={`${inputClass} w-56 font-mono`} />
          <label className="flex items-center gap-1">
            <input type="checkbox" aria-label="Sample include default streams" checked={value.includeDefaults} onChange={(e) => onChange({ ...value, includeDefaults: e.target.checked })} />
            include default streams
          </label>
        </div>
        <SubscriptionList value={value.subscriptions} onChange={(subscriptions) => onChange({ ...value, subscriptions })} testId="impact-subscriptions" />
      </div>
    </details>
  );
}
