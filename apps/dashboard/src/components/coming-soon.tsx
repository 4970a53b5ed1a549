import { PageHeader } from './page-header.tsx';

/** Placeholder body for a section that is not built yet, listing what it will offer. */
export function ComingSoon({ title, description, planned }: { title: string; description: string; planned: readonly string[] }) {
  return (
    <>
      <PageHeader title={title} description={description} />
      <section className="p-6">
        <div className="max-w-2xl rounded-md border border-dashed border-zinc-300 bg-white p-5">
          <p className="font-medium">
            Coming soon <span className="ml-1 rounded bg-amber-100 px-1.5 py-0.5 text-xs text-amber-800">planned</span>
          </p>
          <ul className="mt-3 list-disc space-y-1 pl-5 text-zinc-600">
            {planned.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </div>
      </section>
    </>
  );
}
