'use client';

export default function ConsoleError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <section className="p-6">
      <div role="alert" className="max-w-2xl rounded-md border border-red-200 bg-red-50 p-4 text-red-900">
        <p className="font-medium">This page failed to load.</p>
        <p className="mt-1 text-red-800">
          Check the dashboard&apos;s server log{error.digest ? ` (error id ${error.digest})` : ''}, then retry.
        </p>
        <button type="button" onClick={reset} className="mt-3 rounded border border-red-300 bg-white px-2.5 py-1 text-xs font-medium hover:bg-red-100">
          Retry
        </button>
      </div>
    </section>
  );
}
