'use client';
import { useActionState } from 'react';
import { login, type LoginState } from '@/lib/auth-actions.ts';

const INITIAL: LoginState = { error: null };

export function LoginForm({ next }: { next: string }) {
  const [state, action, pending] = useActionState(login, INITIAL);
  return (
    <form action={action} className="mt-5 space-y-3">
      <input type="hidden" name="next" value={next} />
      <label className="block">
        <span className="text-xs font-medium text-zinc-700">Admin token</span>
        <input
          name="token"
          type="password"
          required
          autoFocus
          autoComplete="off"
          spellCheck={false}
          aria-invalid={state.error ? true : undefined}
          aria-describedby={state.error ? 'login-error' : undefined}
          className="mt-1 block w-full rounded border border-zinc-300 px-2.5 py-1.5 font-mono text-sm outline-none focus:border-zinc-500 focus:ring-2 focus:ring-zinc-200"
        />
      </label>
      {state.error ? (
        <p id="login-error" role="alert" className="rounded border border-red-200 bg-red-50 px-2.5 py-1.5 text-red-800">
          {state.error}
        </p>
      ) : null}
      <button
        type="submit"
        disabled={pending}
        className="w-full rounded bg-zinc-900 px-3 py-1.5 font-medium text-white hover:bg-zinc-800 disabled:opacity-60"
      >
        {pending ? 'Checking…' : 'Log in'}
      </button>
    </form>
  );
}
