'use client';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { NAV_ITEMS } from './nav-items.ts';

function isActive(pathname: string, href: string): boolean {
  return href === '/' ? pathname === '/' : pathname === href || pathname.startsWith(`${href}/`);
}

export function NavLinks() {
  const pathname = usePathname();
  return (
    <nav aria-label="Main" className="flex flex-col gap-0.5 px-2">
      {NAV_ITEMS.map((item) => {
        const active = isActive(pathname, item.href);
        return (
          <Link
            key={item.href}
            href={item.href}
            aria-current={active ? 'page' : undefined}
            className={
              active
                ? 'rounded px-2.5 py-1.5 font-medium text-white bg-zinc-700'
                : 'rounded px-2.5 py-1.5 text-zinc-300 hover:bg-zinc-800 hover:text-white'
            }
          >
            {item.label}
          </Link>
        );
      })}
    </nav>
  );
}
