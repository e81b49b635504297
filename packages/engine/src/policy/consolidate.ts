import type { Decision } from '../model/configuration.ts';
import type { Policy, PolicyView } from './policy.ts';

/**
 * Consolidation: keep running what runs and ask for nothing else. The decision changes no
 * vjob's state; packing is the placement's job. With the current engine, which keeps VMs where
 * they fit and moves the fewest and cheapest when a node is overloaded, this policy combined with
 * `sizing: 'measured'` repairs overloaded nodes and lets idle VMs share nodes, but does not yet
 * empty lightly loaded ones: `hints.consolidate` asks the engine to pack on as few nodes as
 * possible, a goal it may read in a later version.
 */
export function consolidate(): Policy {
  return { name: 'consolidate', sizing: 'measured', hints: { consolidate: true }, decide };
}

function decide(view: PolicyView): Decision {
  const decision: Record<string, 'running'> = {};
  for (const j of view.queue) if (j.state === 'running') decision[j.id] = 'running';
  return decision;
}
