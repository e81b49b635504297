import { consolidate } from './consolidate.ts';
import { fcfs } from './fcfs.ts';
import { fifoFfd } from './fifo-ffd.ts';
import type { PolicyFactory } from './policy.ts';

/** The policies shipped with Entropy, by name. */
export const BUILTIN_POLICIES: Readonly<Record<string, PolicyFactory>> = {
  fcfs,
  'fifo-ffd': fifoFfd,
  consolidate,
};
