/**
 * The SQL text of each bucket definition's parameter and data queries, read from the YAML so the
 * console can show operators the exact queries it evaluated. Pure.
 */
import { parse } from 'yaml';

export interface DefinitionQueries {
  name: string;
  parameters: string[];
  data: string[];
}

function asList(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

export function definitionQueries(yaml: string): DefinitionQueries[] {
  let doc: unknown;
  try {
    doc = parse(yaml);
  } catch {
    return [];
  }
  const defs = (doc as { bucket_definitions?: unknown } | null)?.bucket_definitions;
  if (!defs || typeof defs !== 'object') return [];
  return Object.entries(defs as Record<string, unknown>).map(([name, d]) => {
    const def = (d ?? {}) as { parameters?: unknown; data?: unknown };
    return { name, parameters: asList(def.parameters), data: asList(def.data) };
  });
}
