import type { VJobState } from '../model/lifecycle.ts';
import { MAX_NAMED_AHEAD, type PolicyReason, type Shortage } from './policy.ts';

/** The sentences of the built-in policies' reasons (Policy.explain), written once. */

const num = (x: number) => String(Number(x.toFixed(2)));

/** `needs cpu 4.5, 2 free in all`, `a VM needs mem 2048, at most 1024 free on one node`, ... */
export function shortageText(s: Shortage): string {
  switch (s.scope) {
    case 'cluster':
      return `needs ${s.resource} ${num(s.needed)}, ${num(s.free)} free in all`;
    case 'node':
      return `a VM needs ${s.resource} ${num(s.needed)}, at most ${num(s.free)} free on one node`;
    case 'packing':
      return `needs ${s.resource} ${num(s.needed)} of ${num(s.free)} free in all, but its VMs do not fit in the nodes' free room together`;
  }
}

/** The vjobs before position `index` of an order: the first ones named, and their count. */
export function aheadOf(
  order: readonly { readonly id: string }[],
  index: number,
): Pick<PolicyReason, 'ahead' | 'aheadCount'> {
  return { ahead: order.slice(0, Math.min(index, MAX_NAMED_AHEAD)).map((j) => j.id), aheadCount: index };
}

/** `3 vjobs ahead (a, b, c)`, `nobody ahead`. */
export function aheadText(r: Pick<PolicyReason, 'ahead' | 'aheadCount'>): string {
  const n = r.aheadCount ?? 0;
  if (n === 0) return 'nobody ahead';
  const named = r.ahead ?? [];
  return `${n} vjob${n === 1 ? '' : 's'} ahead (${named.join(', ')}${n > named.length ? ', ...' : ''})`;
}

/** What getting `decided` means for a vjob now `from`: `runs`, `starts`, `resumes`, `suspended`, `waits`... */
export function verbOf(from: VJobState, decided: VJobState | undefined): string {
  const to = decided ?? from;
  if (to === 'running') return from === 'running' ? 'runs' : from === 'sleeping' ? 'resumes' : 'starts';
  if (to === 'sleeping') return from === 'running' ? 'suspended' : 'stays sleeping';
  if (to === 'waiting') return 'waits';
  return to;
}
