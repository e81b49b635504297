import type { PlanProgress } from '@entropy/protocol';
import { describe, expect, it } from 'vitest';
import type { JournalRecord } from '../journal/plan-journal.ts';
import type { FeasiblePlan, PlannedAction } from '@entropy/engine';
import { xmlProblem } from '@entropy/test-support/well-formed-xml.ts';
import { ganttSvg } from './gantt-svg.ts';
import { planFromJournal } from './journal-plan.ts';
import { measuredFromJournal, measuredFromProgress } from './measured-actions.ts';

const action = (a: Omit<PlannedAction, 'dependsOn' | 'vjob'> & { vjob?: string }): PlannedAction => ({
  vjob: 'j1',
  dependsOn: [],
  ...a,
});

// Step 0: v1 pauses then suspends on n1 while v2 migrates n2 -> n3; step 1: v3 runs on n1; n4 boots.
const plan: FeasiblePlan = {
  feasible: true,
  actions: [
    action({ id: 'a1', type: 'pause', vm: 'v1', from: 'n1', start: 0, end: 10, step: 0 }),
    action({ id: 'a2', type: 'suspend', vm: 'v1', from: 'n1', start: 10, end: 1010, step: 0 }),
    action({ id: 'a3', type: 'migrate', vm: 'v2', vjob: 'j2', from: 'n2', to: 'n3', start: 0, end: 2000, step: 0 }),
    action({ id: 'a4', type: 'run', vm: 'v3', vjob: 'j3', to: 'n1', start: 2000, end: 7000, step: 1 }),
  ],
  nodeActions: [{ id: 'a5', type: 'bootNode', node: 'n4', start: 0, end: 3000, step: 0, dependsOn: [] }],
  steps: 2,
  makespan: 7000,
  sumCompletion: 13_020,
  solveMs: 1,
  target: {},
};

const count = (text: string, pattern: RegExp) => (text.match(pattern) ?? []).length;
const laneLabels = (svg: string) =>
  [...svg.matchAll(/<text x="112" y="[\d.]+" font-size="12" fill="#333" text-anchor="end">([^<]*)<\/text>/g)].map(
    (m) => m[1],
  );

describe('ganttSvg', () => {
  it('draws a lane per node, a bar per action on the node that runs it (a migration also on its destination), a legend of the types present', () => {
    const svg = ganttSvg(plan, undefined, { title: 'five actions' });
    expect(xmlProblem(svg)).toBeUndefined();
    expect(laneLabels(svg)).toEqual(['n1', 'n2', 'n3', 'n4']);
    // One tooltip per bar: four VM actions, the migration's arrival on n3, the boot.
    expect(count(svg, /<g><title>/g)).toBe(6);
    expect(svg).toContain('<title>a3 migrate v2 (vjob j2) on n2 -&gt; n3, step 0; planned 0.00-2.00 s</title>');
    expect(svg).toContain(
      '<title>arriving: a3 migrate v2 (vjob j2) on n2 -&gt; n3, step 0; planned 0.00-2.00 s</title>',
    );
    expect(svg).toContain('<title>a5 bootNode n4, step 0; planned 0.00-3.00 s</title>');
    for (const type of ['pause', 'suspend', 'migrate', 'run', 'bootNode']) expect(svg).toContain(`>${type}</text>`);
    expect(svg).not.toContain('>resume</text>');
    expect(svg).not.toContain('>measured</text>');
  });

  it('draws a dashed line where each step after the first starts', () => {
    const svg = ganttSvg(plan);
    // The legend's key, and step 1 at 2 s.
    expect(count(svg, /stroke-dasharray="4 3"/g)).toBe(2);
    expect(svg).toMatch(/<text x="[\d.]+" y="86" font-size="10" fill="#555">s1<\/text>/);
  });

  it('escapes ids in text and tooltips', () => {
    const odd = {
      ...plan,
      actions: [action({ id: 'a"1', type: 'run', vm: "v<1>&'x'", to: 'n&1', start: 0, end: 9000, step: 0 })],
      nodeActions: [],
    };
    const svg = ganttSvg(odd, [{ id: 'a"1', start: 0, end: 9500, ok: true }], { title: '<plan>' });
    expect(xmlProblem(svg)).toBeUndefined();
    expect(svg).toContain('>n&amp;1</text>');
    expect(svg).toContain('>v&lt;1&gt;&amp;&apos;x&apos;</text>');
    expect(svg).toContain('>&lt;plan&gt;</text>');
    expect(svg).toContain('<title>a&quot;1 run');
  });

  it('is deterministic: the same text whatever the order of the actions and measures', () => {
    const measured = [
      { id: 'a3', start: 5, end: 2500, ok: true },
      { id: 'a1', start: 0, end: 12, ok: true },
    ];
    const a = ganttSvg(plan, measured);
    const b = ganttSvg({ ...plan, actions: [...plan.actions].reverse() }, [...measured].reverse());
    expect(a).toBe(b);
    expect(ganttSvg(plan, measured)).toBe(a);
  });

  it('draws the measured bars below the planned ones: failed in red, unfinished open-ended; and where each step was measured to end', () => {
    const measured = [
      { id: 'a1', start: 0, end: 12, ok: true, durationMs: 11 },
      { id: 'a2', start: 12, end: 1500, ok: true, durationMs: 1480 },
      { id: 'a3', start: 3, end: 1800, ok: false },
      { id: 'a4', start: 2500 },
    ];
    const svg = ganttSvg(plan, measured);
    expect(xmlProblem(svg)).toBeUndefined();
    expect(svg).toContain('>measured</text>');
    expect(svg).toContain('; measured 0.01-1.50 s (agent 1.48 s)</title>');
    expect(svg).toContain('; measured 0.00-1.80 s, FAILED</title>');
    expect(svg).toContain('; measured 2.50-? s</title>');
    expect(count(svg, /height="8" rx="2" fill="#[0-9a-f]{6}" stroke="#cc0000" stroke-width="2"\/>/g)).toBe(1);
    expect(count(svg, /fill-opacity="0.3" stroke-dasharray="2 2"/g)).toBe(1);
    // Step 0 ended with its last measured action (a3 at 1.8 s; the boot has no measure: its step stays open).
    expect(svg).not.toContain('s0 done');
    const closed = ganttSvg({ ...plan, nodeActions: [] }, measured);
    expect(closed).toContain('>s0 done</text>');
    expect(closed).not.toContain('s1 done');
  });

  it('draws an empty plan', () => {
    const svg = ganttSvg({ actions: [], makespan: 0 });
    expect(xmlProblem(svg)).toBeUndefined();
    expect(svg).toContain('nothing to do');
  });
});

const progress = (
  kind: PlanProgress['kind'],
  ts: number,
  actionId?: string,
  extra: Partial<PlanProgress> = {},
): PlanProgress => ({
  planId: 'p',
  kind,
  ts,
  counts: { total: 3, done: 0, failed: 0, running: 0 },
  ...(actionId ? { actionId } : {}),
  ...extra,
});

describe('measured actions', () => {
  it('from progress messages: start at action-started, end at action-done or action-failed, from plan-started', () => {
    const events = [
      progress('plan-started', 1000),
      progress('step-started', 1001, undefined, { step: 0 }),
      progress('action-started', 1010, 'p:a1'),
      progress('action-started', 1012, 'p:a2'),
      progress('action-started', 1013, 'p:a3'),
      progress('action-failed', 1500, 'p:a2', { error: { code: 'X', message: 'boom' } }),
      progress('action-started', 1510, 'p:undo-a2'),
      progress('action-done', 1600, 'p:undo-a2', { durationMs: 80 }),
      progress('action-done', 2000, 'p:a1', { durationMs: 950 }),
      progress('plan-failed', 2001),
    ];
    expect(measuredFromProgress('p', events)).toEqual([
      { id: 'a1', start: 10, end: 1000, ok: true, durationMs: 950 },
      { id: 'a2', start: 12, end: 500, ok: false },
      { id: 'a3', start: 13 },
      { id: 'undo-a2', start: 510, end: 600, ok: true, durationMs: 80 },
    ]);
    expect(measuredFromProgress('p', [])).toEqual([]);
  });

  it('from the journal: start at the intent, end at the result, from the plan record; and the plan the intents describe', () => {
    const records: JournalRecord[] = [
      { kind: 'plan', planId: 'p', controller: 'c', mode: 'barrier', actions: 2, decision: {}, at: 500 },
      {
        kind: 'intent',
        planId: 'p',
        actionId: 'p:a1',
        node: 'n2',
        type: 'migrate',
        vm: 'v2',
        vjob: 'j2',
        from: 'n2',
        to: 'n3',
        mem: 1024,
        estimatedMs: 2000,
        step: 0,
        start: 0,
        end: 2000,
        at: 510,
      },
      { kind: 'intent', planId: 'p', actionId: 'p:a2', node: 'n1', type: 'run', vm: 'v3', vjob: 'j3', at: 520 },
      { kind: 'result', planId: 'p', actionId: 'p:a1', ok: true, durationMs: 2100, at: 2700 },
      { kind: 'result', planId: 'p', actionId: 'p:a2', ok: false, code: 'X', at: 900 },
      { kind: 'end', planId: 'p', status: 'failed', at: 2800 },
    ];
    expect(measuredFromJournal(records)).toEqual([
      { id: 'a1', start: 10, end: 2200, ok: true, durationMs: 2100 },
      { id: 'a2', start: 20, end: 400, ok: false },
    ]);
    const { plan: fromJournal, measured } = planFromJournal(records);
    expect(fromJournal.actions).toEqual([
      {
        id: 'a1',
        type: 'migrate',
        vm: 'v2',
        vjob: 'j2',
        from: 'n2',
        to: 'n3',
        start: 0,
        end: 2000,
        step: 0,
        dependsOn: [],
      },
      // Recorded before intents kept their plan times: the measured ones stand in.
      { id: 'a2', type: 'run', vm: 'v3', vjob: 'j3', to: 'n1', start: 20, end: 400, step: 0, dependsOn: [] },
    ]);
    expect(xmlProblem(ganttSvg(fromJournal, measured))).toBeUndefined();
  });
});
