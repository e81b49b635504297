/**
 * Constraints mixed at random on tiny random instances: every plan the engine returns verifies
 * with all its constraints (discrete ones on the final configuration, continuous ones over the
 * timeline). Infeasible is allowed (random constraints often contradict), but not all the time.
 * ENTROPY_PROPERTY_RUNS and ENTROPY_PROPERTY_SEED run more or other instances.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { contextSwitch } from '../solver/context-switch.ts';
import type { Instance } from '../instance/parse-instance.ts';
import { arbitraryInstance } from '@entropy/test-support/arbitrary-instance.ts';
import { verifyPlan } from '../verifier/index.ts';
import type { Constraint } from './constraint.ts';
import { CONSTRAINT_TYPES } from './registry.ts';

const RUNS = Number(process.env.ENTROPY_PROPERTY_RUNS ?? 1500);
const SEED = Number(process.env.ENTROPY_PROPERTY_SEED ?? 5);

/** A constraint drawn from picks: which kind, which VMs and nodes (indexes modulo what exists), amounts. */
const pick = fc.record({
  kind: fc.constantFrom(...CONSTRAINT_TYPES),
  vms: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }),
  nodes: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
  split: fc.nat(),
  amount: fc.integer({ min: 0, max: 6 }),
  continuous: fc.boolean(),
});

function constraintOf(
  i: Instance,
  p: fc.Arbitrary<unknown> extends never ? never : typeof pick extends fc.Arbitrary<infer T> ? T : never,
): Constraint | undefined {
  const vms = i.configuration.vms.map((v) => v.id);
  const nodes = i.configuration.nodes.map((n) => n.id);
  if (vms.length === 0 || nodes.length === 0) return undefined;
  const someVms = [...new Set(p.vms.map((k) => vms[k % vms.length]!))];
  const someNodes = [...new Set(p.nodes.map((k) => nodes[k % nodes.length]!))];
  const vm = someVms[0]!;
  const node = someNodes[0]!;
  const cut = 1 + (p.split % Math.max(1, someVms.length - 1));
  const vParts = someVms.length > 1 ? [someVms.slice(0, cut), someVms.slice(cut)] : [someVms];
  const rest = nodes.filter((n) => !someNodes.includes(n));
  const pParts = rest.length > 0 ? [someNodes, rest] : [someNodes];
  const continuous = p.continuous;
  switch (p.kind) {
    case 'online':
    case 'offline':
    case 'quarantine':
      return { type: p.kind, node };
    case 'running':
    case 'ready':
    case 'sleeping':
    case 'killed':
    case 'root':
      return { type: p.kind, vm };
    case 'preserve':
      return { type: 'preserve', vm, rc: 'cpu', amount: p.amount };
    case 'spread':
    case 'gather':
    case 'lonely':
      return { type: p.kind, vms: someVms, continuous };
    case 'among':
      return { type: 'among', vms: someVms, parts: pParts, continuous };
    case 'split':
      return { type: 'split', parts: vParts, continuous };
    case 'splitAmong':
      return { type: 'splitAmong', vParts, pParts, continuous };
    case 'ban':
    case 'fence':
      return { type: p.kind, vm, nodes: someNodes, continuous };
    case 'resourceCapacity':
      return { type: 'resourceCapacity', nodes: someNodes, rc: 'cpu', amount: p.amount * 2, continuous };
    case 'runningCapacity':
      return { type: 'runningCapacity', nodes: someNodes, amount: p.amount, continuous };
    case 'maxOnline':
      return { type: 'maxOnline', nodes: someNodes, amount: Math.min(p.amount, someNodes.length), continuous };
    case 'overbook':
      return { type: 'overbook', node, rc: 'cpu', ratio: 1 + p.amount / 4, continuous };
  }
}

describe('constraints on random tiny instances', () => {
  it('every plan verifies with all its constraints', () => {
    let feasible = 0;
    let runs = 0;
    const result = fc.check(
      fc.property(
        arbitraryInstance({ maxNodes: 5, maxVms: 12 }),
        fc.array(pick, { minLength: 1, maxLength: 4 }),
        (instance, picks) => {
          runs++;
          const constraints = picks
            .map((p) => constraintOf(instance, p))
            .filter((c): c is Constraint => c !== undefined);
          const { configuration, decision, costModel } = instance;
          const plan = contextSwitch(configuration, decision, costModel, { constraints, timeLimitMs: 50 });
          if (!plan.feasible) return true;
          feasible++;
          const verdict = verifyPlan(configuration, decision, plan, constraints);
          if (!verdict.ok) throw new Error(`${verdict.violation.message}\nconstraints: ${JSON.stringify(constraints)}`);
          return true;
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
    if (result.failed)
      throw new Error(
        `${String((result.errorInstance as Error)?.message ?? result.errorInstance)}\ncounterexample: ${JSON.stringify(result.counterexample)}`,
      );
    expect(feasible).toBeGreaterThan(runs / 5);
  });
});
