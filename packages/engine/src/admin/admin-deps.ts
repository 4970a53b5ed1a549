/** What the admin services need: the storage pool, a source pool (read-only use), compiled rules. */
import type pg from 'pg';
import { ServiceError } from '@syncline/protocol';
import { compileSyncRules, type SyncRules } from '../sync-rules/index.ts';
import { getServingVersion, getVersion } from '../storage/pg-versions.ts';
import type { SyncRulesVersion } from '../storage/storage-types.ts';

export interface AdminDeps {
  /** Storage database (schema `syncline`). */
  storage: pg.Pool;
  /** Source database; only read (catalog, `SELECT` of rows for previews and verification). */
  source: pg.Pool;
  /** Compiled rules of a stored version (the API process shares its cache); compiles when absent. */
  rulesFor?: (versionId: number, content: string) => SyncRules;
}

/** Serialises a bigint-ish database value as a decimal string (JSON-safe). */
export function idText(v: string | bigint | number | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : v.toString();
}

export interface LoadedVersion {
  version: SyncRulesVersion;
  rules: SyncRules;
}

/** The given version, or the serving one, with its compiled rules. */
export async function loadVersion(deps: AdminDeps, versionId?: number | null): Promise<LoadedVersion> {
  const version = versionId ? await getVersion(deps.storage, versionId) : await getServingVersion(deps.storage);
  if (!version) {
    throw versionId
      ? new ServiceError('NOT_FOUND', `Sync-rules version ${versionId} does not exist.`)
      : new ServiceError('NO_SYNC_RULES', 'No sync rules are active yet; deploy some and wait for the snapshot to finish.');
  }
  let rules: SyncRules | null;
  if (deps.rulesFor) rules = deps.rulesFor(version.id, version.content);
  else rules = compileSyncRules(version.content, { versionId: version.id }).rules;
  if (!rules) throw new ServiceError('SYNC_RULES_INVALID', `Sync rules of version ${version.id} no longer compile.`);
  return { version, rules };
}
