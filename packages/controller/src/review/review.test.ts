import { describe, expect, it } from 'vitest';
import {
  type Configuration,
  contextSwitch,
  DEFAULT_COST_MODEL,
  type Decision,
  type FeasiblePlan,
  parseInstance,
  verifyPlan,
} from '@entropy/engine';
import { reviewInstanceJson } from '@entropy/test-support/review-scenario.ts';
import { firstDifference } from './plan-match.ts';
import { ProposalBook } from './proposal-book.ts';
import { checkReviewed } from './reviewed-plan.ts';
import { parseSavedPlan, savedPlanJson } from './saved-plan-file.ts';
import { observedConfigurationOf } from './reviewed-plan.ts';
import { withoutSkipped } from './skip-actions.ts';

/** n1 full with j1; j2 on n2 (half); j4 and j5 on n3 (half); j3 waits for a whole node, which only j2's sleep frees (n2). */
const configuration: Configuration = parseInstance(reviewInstanceJson).configuration;

function planFor(decision: Decision, from: Configuration = configuration): FeasiblePlan {
  const plan = contextSwitch(from, decision, DEFAULT_COST_MODEL);
  if (!plan.feasible) throw new Error(plan.reason);
  return plan;
}

const withVm = (c: Configuration, id: string, change: Partial<Configuration['vms'][number]>): Configuration => ({
  ...c,
  vms: c.vms.map((v) => (v.id === id ? { ...v, ...change } : v)),
});

const idsOf = (plan: FeasiblePlan, vjob: string) => plan.actions.filter((a) => a.vjob === vjob).map((a) => a.id);

describe('firstDifference: the saved configuration against the live one, for what the plan touches', () => {
  const plan = planFor({ j1: 'sleeping' });

  it('matches an unchanged cluster, and one changed only where the plan does not act', () => {
    expect(firstDifference(configuration, configuration, plan)).toBeUndefined();
    expect(
      firstDifference(configuration, withVm(configuration, 'j4-vm1', { state: 'sleeping' }), plan),
    ).toBeUndefined();
  });

  it('names the first VM the plan acts on whose state or host changed, or that is gone', () => {
    expect(firstDifference(configuration, withVm(configuration, 'j1-vm2', { host: 'n3' }), plan)).toBe(
      'vm j1-vm2: saved running on n1, now running on n3',
    );
    expect(firstDifference(configuration, withVm(configuration, 'j1-vm1', { state: 'sleeping' }), plan)).toBe(
      'vm j1-vm1: saved running on n1, now sleeping on n1',
    );
    const gone = { ...configuration, vms: configuration.vms.filter((v) => v.id !== 'j1-vm1') };
    expect(firstDifference(configuration, gone, plan)).toBe('vm j1-vm1: saved running on n1, now absent');
  });

  it('names a node the plan uses that went offline or changed capacity', () => {
    const nodes = (change: Partial<Configuration['nodes'][number]>) => ({
      ...configuration,
      nodes: configuration.nodes.map((n) => (n.id === 'n1' ? { ...n, ...change } : n)),
    });
    expect(firstDifference(configuration, nodes({ state: 'offline' }), plan)).toBe(
      'node n1: saved online, now offline',
    );
    expect(firstDifference(configuration, nodes({ capacity: { cpu: 2, mem: 4096 } }), plan)).toBe(
      'node n1: saved capacity cpu=4,mem=4096, now cpu=2,mem=4096',
    );
  });
});

describe('withoutSkipped: the plan minus the skipped actions, verified again', () => {
  const decision: Decision = { j2: 'sleeping', j3: 'running', j4: 'sleeping' };
  const plan = planFor(decision);

  it('the fixture: j3 runs on n2 once j2 is suspended; j4 sleeps on its own', () => {
    expect(plan.actions.find((a) => a.vjob === 'j3')).toMatchObject({ type: 'run', to: 'n2' });
    expect(idsOf(plan, 'j4')).toHaveLength(2);
  });

  it("refuses a skip that breaks viability, with the verifier's reason", () => {
    const r = withoutSkipped(plan, decision, configuration, idsOf(plan, 'j2'));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(new RegExp(`^without ${idsOf(plan, 'j2').join(', ')}: .*n2`));
  });

  it('refuses a skip that leaves a vjob half done (a paused VM, or VMs in different states)', () => {
    const [pause, suspend] = idsOf(plan, 'j4');
    const r = withoutSkipped(plan, decision, configuration, [suspend!]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/j4-vm1/);
    expect(withoutSkipped(plan, decision, configuration, [pause!]).ok).toBe(false);
  });

  it('keeps the rest of a plan when a whole independent vjob is skipped: that vjob keeps its state', () => {
    const r = withoutSkipped(plan, decision, configuration, idsOf(plan, 'j4'));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.decision).toEqual({ j2: 'sleeping', j3: 'running' });
    expect(r.plan.actions.map((a) => a.vjob)).not.toContain('j4');
    expect(r.plan.target['j4-vm1']).toEqual({ state: 'running', host: 'n3' });
    expect(new Set(r.plan.actions.map((a) => a.step))).toEqual(new Set([...Array(r.plan.steps).keys()]));
    expect(verifyPlan(configuration, r.decision, r.plan)).toEqual({ ok: true });
  });

  it('refuses an id the plan does not have', () => {
    expect(withoutSkipped(plan, decision, configuration, ['a99'])).toEqual({
      ok: false,
      reason: 'the plan has no action a99',
    });
  });
});

describe('checkReviewed: match, then the verifier on the live cluster, then the skips', () => {
  const decision: Decision = { j2: 'sleeping', j3: 'running', j4: 'sleeping' };
  const reviewed = { id: 'p1', plan: planFor(decision), decision, configuration };

  it('runs the plan (minus skips) on a cluster that still matches', () => {
    expect(checkReviewed(reviewed, configuration)).toMatchObject({ ok: true, plan: reviewed.plan });
    expect(checkReviewed(reviewed, configuration, idsOf(reviewed.plan, 'j4'))).toMatchObject({ ok: true });
    expect(checkReviewed(reviewed, configuration, idsOf(reviewed.plan, 'j2'))).toMatchObject({
      ok: false,
      code: 'ENTROPY_SKIP_REFUSED',
    });
  });

  it('is stale when a VM it does not touch took the room it counts on', () => {
    // A VM started on n2 meanwhile: the plan does not act on it, but j3's run no longer finds room there.
    const live: Configuration = {
      ...configuration,
      vms: [...configuration.vms, { id: 'x1', vjob: 'x', demand: { cpu: 2, mem: 1024 }, state: 'running', host: 'n2' }],
      vjobs: [...configuration.vjobs, { id: 'x', vms: ['x1'], priority: 0, submittedAt: 0 }],
    };
    const r = checkReviewed(reviewed, live);
    expect(r).toMatchObject({ ok: false, code: 'ENTROPY_PLAN_STALE' });
    if (!r.ok) expect(r.message).toMatch(/^plan p1 no longer fits the cluster: .*n2/);
  });
});

describe('saved plan files', () => {
  const decision: Decision = { j1: 'sleeping' };
  const plan = planFor(decision);
  const json = savedPlanJson(
    'apply-1',
    plan,
    { decision, configuration: observedConfigurationOf(configuration) },
    new Date(0),
  );

  it('round-trip: the file reads back as the plan, its decision and configuration', () => {
    const read = parseSavedPlan(JSON.parse(JSON.stringify(json)), 'p.json');
    expect(read).toMatchObject({ id: 'apply-1', createdAt: '1970-01-01T00:00:00.000Z', decision });
    expect(read.actions.map((a) => a.id)).toEqual(plan.actions.map((a) => a.id));
  });

  it('reports a malformed file with JSON paths', () => {
    type Poked = { configuration: { vms: { state: string }[] }; plan: { actions: { dependsOn: string[] }[] } };
    const bad = JSON.parse(JSON.stringify(json)) as Poked;
    bad.configuration.vms[0]!.state = 'flying';
    expect(() => parseSavedPlan(bad, 'p.json')).toThrow(/p\.json: \$\.configuration\.vms\[0\]\.state: must be one of/);
    const badPlan = JSON.parse(JSON.stringify(json)) as Poked;
    badPlan.plan.actions[1]!.dependsOn = ['a42'];
    expect(() => parseSavedPlan(badPlan, 'p.json')).toThrow(
      /\$\.plan\.actions\[1\]\.dependsOn\[0\]: unknown action 'a42'/,
    );
    expect(() => parseSavedPlan({ ...json, format: 'x' }, 'p.json')).toThrow(
      /\$\.format: must be 'entropy-saved-plan'/,
    );
  });
});

describe('ProposalBook: one proposal at a time, kept while it stands, rejected ones not proposed again', () => {
  const decision: Decision = { j1: 'sleeping' };
  const plan = planFor(decision);
  let n = 0;
  const newId = () => `proposal-${++n}`;

  it('keeps a proposal while the cluster matches; replaces it when a VM it touches changed', () => {
    const book = new ProposalBook();
    const first = book.offer(plan, decision, configuration, 1, newId);
    expect(first.kind).toBe('proposed');
    expect(book.offer(plan, decision, configuration, 2, newId)).toMatchObject({
      kind: 'kept',
      proposal: { id: 'proposal-1' },
    });
    const moved = withVm(configuration, 'j1-vm1', { host: 'n3' });
    expect(book.offer(plan, decision, moved, 3, newId)).toMatchObject({
      kind: 'proposed',
      proposal: { id: 'proposal-2' },
    });
    expect(book.proposals().map((p) => p.id)).toEqual(['proposal-2']);
  });

  it('a rejected plan is not proposed again until what is wanted or observed changes', () => {
    const book = new ProposalBook();
    const { proposal } = book.offer(plan, decision, configuration, 1, newId) as { proposal: { id: string } };
    expect(book.reject(proposal.id, 5)).toBe(true);
    expect(book.offer(plan, decision, configuration, 6, newId)).toMatchObject({ kind: 'rejected' });
    expect(book.proposals()).toEqual([]);
    expect(book.offer(plan, { j1: 'terminated' }, configuration, 7, newId).kind).toBe('proposed');
    expect(book.rejected()).toEqual([]);
    expect(book.reject('nope', 8)).toBe(false);
  });
});
