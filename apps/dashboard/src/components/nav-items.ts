/** The console's sections, in sidebar order. */
export const NAV_ITEMS = [
  { href: '/', label: 'Overview' },
  { href: '/sync-rules', label: 'Sync rules' },
  { href: '/users', label: 'Users' },
  { href: '/buckets', label: 'Buckets' },
  { href: '/storage', label: 'Storage' },
  { href: '/verification', label: 'Verification' },
  { href: '/connections', label: 'Connections' },
  { href: '/cluster', label: 'Cluster' },
] as const;

export type NavHref = (typeof NAV_ITEMS)[number]['href'];
