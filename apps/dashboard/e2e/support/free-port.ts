/** A free TCP port on loopback (the shared implementation from @syncline/test-utils). */
export async function freePort(): Promise<number> {
  const { freePort: fromTestUtils } = await import('@syncline/test-utils');
  return fromTestUtils();
}
