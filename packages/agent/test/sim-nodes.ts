import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { SimLinkRequest } from '@entropy/protocol';
import { type SimDriver, type SimDriverOptions, simDriver } from '../src/drivers/sim-driver.ts';

/**
 * Sim nodes linked directly, each with its own state directory under `root`, whose simulated
 * durations wait until `finishAll()` and whose clock is `clock.now`. `restart(node)` replaces a
 * node's driver by a fresh one on the same directory, as a `kill -9` and a restart of its agent:
 * the old driver's pending actions never end.
 */
export function simNodes(root: string, over: Partial<SimDriverOptions> = {}) {
  /** Per node, the simulated durations not yet ended. */
  const waiting = new Map<string, (() => void)[]>();
  const clock = { now: 1_000_000 };
  const nodes: Record<string, SimDriver> = {};
  const peers = (to: string, req: SimLinkRequest) => nodes[to]!.receiveFromPeer(req);
  const start = (node: string, extra: Partial<SimDriverOptions> = {}): SimDriver => {
    const stateDir = join(root, node);
    mkdirSync(stateDir, { recursive: true });
    // A new list: the previous driver's durations are dropped, never ended, as in a killed process.
    const mine: (() => void)[] = [];
    waiting.set(node, mine);
    nodes[node] = simDriver({
      node,
      capacity: { cpu: 2, mem: 1024 },
      stateDir,
      peers,
      sleep: () => new Promise<void>((resolve) => mine.push(resolve)),
      now: () => clock.now,
      ...over,
      ...extra,
    });
    return nodes[node]!;
  };
  const finishAll = () => [...waiting.values()].forEach((list) => list.splice(0).forEach((resolve) => resolve()));
  const settle = () => new Promise((resolve) => setTimeout(resolve, 5));
  return {
    nodes,
    clock,
    start,
    restart: (node: string, extra: Partial<SimDriverOptions> = {}) => start(node, extra),
    /** Ends every simulated duration started so far. */
    finishAll,
    /** Lets started actions reach their simulated duration. */
    settle,
    /** Lets `action` reach its simulated duration, ends every duration so far, and waits for it. */
    async complete<T>(action: Promise<T>): Promise<T> {
      await settle();
      finishAll();
      return action;
    },
    sleeping: () => [...waiting.values()].reduce((n, list) => n + list.length, 0),
  };
}

/** Two linked sim nodes: n1 first started with `vms`, n2 empty. */
export function simPair(root: string, vms: SimDriverOptions['vms']) {
  const c = simNodes(root);
  return { c, n1: c.start('n1', { vms }), n2: c.start('n2') };
}
