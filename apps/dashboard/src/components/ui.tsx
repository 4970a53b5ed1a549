/** Small presentational pieces shared by the console pages (dense operator UI). */
import type { ReactNode } from 'react';

export function Card({ title, actions, children, className = '', testId }: { title?: ReactNode; actions?: ReactNode; children: ReactNode; className?: string; testId?: string }) {
  return (
    <section data-testid={testId} className={`rounded-md border border-zinc-200 bg-white ${className}`}>
      {title || actions ? (
        <header className="flex items-center justify-between gap-2 border-b border-zinc-100 px-3 py-2">
          <h2 className="text-xs font-semibold uppercase tracking-wide text-zinc-600">{title}</h2>
          {actions ? <div className="flex items-center gap-2">{actions}</div> : null}
        </header>
      ) : null}
      <div className="p-3">{children}</div>
    </section>
  );
}

type ButtonProps = React.ButtonHTMLAttributes<HTMLButtonElement> & { variant?: 'primary' | 'default' | 'danger' };

export function Button({ variant = 'default', className = '', ...rest }: ButtonProps) {
  const styles = {
    primary: 'border-zinc-900 bg-zinc-900 text-white hover:bg-zinc-700',
    default: 'border-zinc-300 bg-white text-zinc-800 hover:bg-zinc-100',
    danger: 'border-red-300 bg-white text-red-700 hover:bg-red-50',
  }[variant];
  return <button type="button" className={`rounded border px-2.5 py-1 text-xs font-medium disabled:cursor-not-allowed disabled:opacity-50 ${styles} ${className}`} {...rest} />;
}

export const inputClass = 'rounded border border-zinc-300 bg-white px-2 py-1 text-xs focus:border-zinc-500 focus:outline-none';

const STATE_STYLES: Record<string, string> = {
  ACTIVE: 'bg-emerald-100 text-emerald-800',
  PROCESSING: 'bg-sky-100 text-sky-800',
  STOPPED: 'bg-zinc-100 text-zinc-600',
  TERMINATED: 'bg-zinc-100 text-zinc-500',
  ERRORED: 'bg-red-100 text-red-800',
  RUNNING: 'bg-sky-100 text-sky-800',
  DONE: 'bg-emerald-100 text-emerald-800',
  FAILED: 'bg-red-100 text-red-800',
  CANCELLED: 'bg-zinc-100 text-zinc-600',
};

export function Badge({ children, tone, testId }: { children: ReactNode; tone?: string; testId?: string }) {
  const cls = tone ?? (typeof children === 'string' ? STATE_STYLES[children] : undefined) ?? 'bg-zinc-100 text-zinc-700';
  return (
    <span data-testid={testId} className={`inline-block rounded px-1.5 py-0.5 text-[11px] font-semibold ${cls}`}>
      {children}
    </span>
  );
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div role="alert" className="rounded border border-red-200 bg-red-50 px-3 py-2 text-xs text-red-800">
      {message}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="py-2 text-xs text-zinc-500">{children}</p>;
}

export function Th({ children, className = '' }: { children?: ReactNode; className?: string }) {
  return <th className={`border-b border-zinc-200 px-2 py-1 text-left text-[11px] font-semibold uppercase tracking-wide text-zinc-500 ${className}`}>{children}</th>;
}

export function Td({ children, className = '', title }: { children?: ReactNode; className?: string; title?: string }) {
  return (
    <td title={title} className={`border-b border-zinc-100 px-2 py-1 align-top ${className}`}>
      {children}
    </td>
  );
}

export function fmtNumber(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : n.toLocaleString('en-US');
}

export function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function fmtTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  return iso.replace('T', ' ').slice(0, 19);
}

export function fmtAgo(iso: string | null | undefined): string {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** Parses an optional JSON object typed by the operator; throws a readable error. */
export function parseJsonObject(text: string, what: string): Record<string, unknown> {
  if (!text.trim()) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${what} must be a JSON object.`);
  return v as Record<string, unknown>;
}
