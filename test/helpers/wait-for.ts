import { setTimeout as delay } from 'node:timers/promises';

/**
 * Polls `probe` (sync or async) until it returns a truthy value, and returns it. Integration tests
 * wait for conditions, never for fixed times: the machines are shared and slow, so the default
 * limit is generous.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 90_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(50);
  }
}
