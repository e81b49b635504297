/** Entropy ids of BtrPlace's integer ids: VM 12 is 'vm12', node 3 is 'n3'. The export maps them back. */
export const vmName = (id: number) => `vm${id}`;
export const nodeName = (id: number) => `n${id}`;

export function vmNumber(name: string): number {
  return Number(name.slice(2));
}

export function nodeNumber(name: string): number {
  return Number(name.slice(1));
}

/** One BtrPlace time unit (its action durations are integers, 1 by default) in the plan's milliseconds. */
export const UNIT_MS = 1000;
