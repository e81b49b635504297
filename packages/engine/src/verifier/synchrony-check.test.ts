import { describe, expect, it } from 'vitest';
import type { ActionType } from '../model/lifecycle.ts';
import { verifyPlan } from './index.ts';
import {
  action,
  configuration,
  edit,
  node,
  plan,
  referenceCase,
  vm,
  type ActionSpec,
} from '@entropy/test-support/verifier-fixtures.ts';

describe('vjob synchrony', () => {
  const { config, decision, actions, target } = referenceCase();

  it('reports pauses of one vjob that do not happen together', () => {
    const verdict = verifyPlan(config, decision, plan(edit(actions, 'p2', { start: 1 }), target));
    expect(verdict).toMatchObject({
      ok: false,
      violation: { kind: 'synchrony', vjob: 'j1', vm: 'v2', actionId: 'p2' },
    });
    if (!verdict.ok)
      expect(verdict.violation.message).toContain(
        "pause 'p2' of VM 'v2' (start 1, end 10, step 0) is not together with pause 'p1'",
      );
  });

  it('reports a vjob suspended while one of its running VMs is not paused', () => {
    // Only v1 is paused and saved: v2 of the same vjob keeps running meanwhile.
    const changed = edit(edit(edit(actions, 'p2', null), 's2', null), 's1', { dependsOn: ['p1'] });
    const verdict = verifyPlan(config, decision, plan(changed, target));
    expect(verdict).toMatchObject({ ok: false, violation: { kind: 'synchrony', vjob: 'j1', vm: 'v2' } });
    if (!verdict.ok)
      expect(verdict.violation.message).toContain(
        "vjob 'j1' is paused but its running VM 'v2' is not paused with the others",
      );
  });

  describe('resumes', () => {
    const two = configuration(
      [node('n1', 4, 8192)],
      [vm('w1', 'jw', 'sleeping', 'n1'), vm('w2', 'jw', 'sleeping', 'n1')],
    );
    const a = (id: string, type: 'resume' | 'unpause', vmId: string, start: number, end: number, step: number) =>
      action(two, id, type, vmId, { from: 'n1', ...(type === 'resume' ? { to: 'n1' } : {}), start, end, step });
    const t = { w1: { state: 'running', host: 'n1' }, w2: { state: 'running', host: 'n1' } } as const;

    it('accepts restored VMs unpaused together after the last resume', () => {
      const ok = [
        a('r1', 'resume', 'w1', 0, 100, 0),
        a('r2', 'resume', 'w2', 0, 200, 0),
        a('u1', 'unpause', 'w1', 200, 210, 1),
        a('u2', 'unpause', 'w2', 200, 210, 1),
      ];
      expect(verifyPlan(two, { jw: 'running' }, plan(ok, t))).toEqual({ ok: true });
    });

    it('reports an unpause that starts before another VM of the vjob is restored', () => {
      const early = [
        a('r1', 'resume', 'w1', 0, 100, 0),
        a('r2', 'resume', 'w2', 0, 200, 0),
        a('u1', 'unpause', 'w1', 100, 110, 1),
        a('u2', 'unpause', 'w2', 200, 210, 2),
      ];
      const verdict = verifyPlan(two, { jw: 'running' }, plan(early, t));
      expect(verdict).toMatchObject({ ok: false, violation: { kind: 'synchrony', vjob: 'jw', actionId: 'u2' } });
    });

    it('reports a resumed VM left out of the unpause group', () => {
      const missing = [
        a('r1', 'resume', 'w1', 0, 100, 0),
        a('r2', 'resume', 'w2', 0, 100, 0),
        a('u1', 'unpause', 'w1', 100, 110, 1),
      ];
      const verdict = verifyPlan(two, { jw: 'running' }, plan(missing, t));
      expect(verdict).toMatchObject({
        ok: false,
        violation: { kind: 'synchrony', vjob: 'jw', vm: 'w2', actionId: 'r2' },
      });
      if (!verdict.ok)
        expect(verdict.violation.message).toContain("VM 'w2' is resumed by 'r2' but not unpaused with the vjob");
    });
  });

  describe('a vjob found paused', () => {
    // jp: p1, p2 paused on n1 (a plan cut before its unpause), s3 asleep on n2, r4 running on n2.
    const cut = configuration(
      [node('n1', 4, 8192), node('n2', 4, 8192)],
      [
        vm('p1', 'jp', 'paused', 'n1'),
        vm('p2', 'jp', 'paused', 'n1'),
        vm('s3', 'jp', 'sleeping', 'n2'),
        vm('r4', 'jp', 'running', 'n2'),
      ],
    );
    const a = (id: string, type: ActionType, vmId: string, spec: ActionSpec) => action(cut, id, type, vmId, spec);
    const running = {
      p1: { state: 'running', host: 'n1' },
      p2: { state: 'running', host: 'n1' },
      s3: { state: 'running', host: 'n2' },
      r4: { state: 'running', host: 'n2' },
    } as const;
    const resumed = [
      a('r3', 'resume', 's3', { from: 'n2', to: 'n2', start: 0, end: 1024, step: 0 }),
      a('u1', 'unpause', 'p1', { from: 'n1', start: 1024, end: 1034, step: 1, dependsOn: ['r3'] }),
      a('u2', 'unpause', 'p2', { from: 'n1', start: 1024, end: 1034, step: 1, dependsOn: ['r3'] }),
      a('u3', 'unpause', 's3', { from: 'n2', start: 1024, end: 1034, step: 1, dependsOn: ['r3'] }),
    ];

    it('accepts its paused and resumed VMs unpaused as one group after the resume', () => {
      expect(verifyPlan(cut, { jp: 'running' }, plan(resumed, running))).toEqual({ ok: true });
    });

    it('reports its unpause group split in two', () => {
      const split = edit(edit(resumed, 'u1', { start: 0, end: 10, step: 0, dependsOn: [] }), 'u2', {
        start: 0,
        end: 10,
        step: 0,
        dependsOn: [],
      });
      const verdict = verifyPlan(cut, { jp: 'running' }, plan(split, running));
      expect(verdict).toMatchObject({ ok: false, violation: { kind: 'synchrony', vjob: 'jp', actionId: 'u3' } });
      if (!verdict.ok)
        expect(verdict.violation.message).toContain(
          "unpause 'u3' of VM 's3' (start 1024, end 1034, step 1) is not together with unpause 'u1'",
        );
    });

    it('reports an unpause group that starts before a resume of the vjob ends', () => {
      // The paused VMs run again while s3 is still being restored.
      const early = [
        resumed[0]!,
        ...edit(edit(resumed, 'u1', { start: 512, end: 522, dependsOn: [] }), 'u2', {
          start: 512,
          end: 522,
          dependsOn: [],
        }).slice(1, 3),
      ];
      const verdict = verifyPlan(cut, { jp: 'running' }, plan(early, running));
      expect(verdict).toMatchObject({ ok: false, violation: { kind: 'synchrony', vjob: 'jp', actionId: 'u1' } });
      if (!verdict.ok)
        expect(verdict.violation.message).toContain(
          "unpause 'u1' of VM 'p1' starts at 512, before the vjob's resume 'r3' of VM 's3' ends (1024)",
        );
    });

    it('reports a VM paused in the source left out of the unpause group', () => {
      const missing = edit(resumed, 'u2', null);
      const verdict = verifyPlan(cut, { jp: 'running' }, plan(missing, running));
      expect(verdict).toMatchObject({ ok: false, violation: { kind: 'synchrony', vjob: 'jp', vm: 'p2' } });
      if (!verdict.ok)
        expect(verdict.violation.message).toContain("VM 'p2', paused in the source, is not unpaused with the others");
    });

    it('reports an unpause that starts before the migration of a paused VM ends', () => {
      const two = configuration(
        [node('n1', 4, 8192), node('n2', 4, 8192)],
        [vm('p1', 'jp', 'paused', 'n1'), vm('p2', 'jp', 'paused', 'n2')],
      );
      const b = (id: string, type: 'migrate' | 'unpause', vmId: string, spec: ActionSpec) =>
        action(two, id, type, vmId, spec);
      const moved = { p1: { state: 'running', host: 'n2' }, p2: { state: 'running', host: 'n2' } } as const;
      const ok = [
        b('m1', 'migrate', 'p1', { from: 'n1', to: 'n2', start: 0, end: 1024, step: 0 }),
        b('u1', 'unpause', 'p1', { from: 'n2', start: 1024, end: 1034, step: 1, dependsOn: ['m1'] }),
        b('u2', 'unpause', 'p2', { from: 'n2', start: 1024, end: 1034, step: 1, dependsOn: ['m1'] }),
      ];
      expect(verifyPlan(two, { jp: 'running' }, plan(ok, moved))).toEqual({ ok: true });
      // p2 runs again while p1, paused, is still on its way.
      const early = [ok[0]!, b('u2', 'unpause', 'p2', { from: 'n2', start: 100, end: 110, step: 1 })];
      const verdict = verifyPlan(two, { jp: 'running' }, plan(early, moved));
      expect(verdict).toMatchObject({ ok: false, violation: { kind: 'synchrony', vjob: 'jp', actionId: 'u2' } });
      if (!verdict.ok)
        expect(verdict.violation.message).toContain(
          "unpause 'u2' of VM 'p2' starts at 100, before the migration 'm1' of paused VM 'p1' ends (1024)",
        );
    });

    it('reports a suspend of a paused VM that starts before the pause group of the running ones ends', () => {
      const asleep = {
        p1: { state: 'sleeping', host: 'n1' },
        p2: { state: 'sleeping', host: 'n1' },
        s3: { state: 'sleeping', host: 'n2' },
        r4: { state: 'sleeping', host: 'n2' },
      } as const;
      const ok = [
        a('p4', 'pause', 'r4', { from: 'n2', start: 0, end: 10, step: 0 }),
        a('s4', 'suspend', 'r4', { from: 'n2', start: 10, end: 1034, step: 1, dependsOn: ['p4'] }),
        a('s1', 'suspend', 'p1', { from: 'n1', start: 10, end: 1034, step: 1, dependsOn: ['p4'] }),
        a('s2', 'suspend', 'p2', { from: 'n1', start: 10, end: 1034, step: 1, dependsOn: ['p4'] }),
      ];
      expect(verifyPlan(cut, { jp: 'sleeping' }, plan(ok, asleep))).toEqual({ ok: true });
      const early = edit(ok, 's1', { start: 0, end: 1024, step: 0, dependsOn: [] });
      const verdict = verifyPlan(cut, { jp: 'sleeping' }, plan(early, asleep));
      expect(verdict).toMatchObject({ ok: false, violation: { kind: 'synchrony', vjob: 'jp', actionId: 's1' } });
      if (!verdict.ok)
        expect(verdict.violation.message).toContain(
          "suspend 's1' of VM 'p1' starts at 0, before the vjob's pauses end (10)",
        );
      // Saving the paused VMs without pausing the running one leaves part of the vjob running.
      const unpaused = edit(edit(ok, 'p4', null), 's4', null).map((x) => ({ ...x, dependsOn: [] }));
      const v2 = verifyPlan(cut, { jp: 'sleeping' }, plan(unpaused, asleep));
      expect(v2).toMatchObject({ ok: false, violation: { kind: 'synchrony', vjob: 'jp', vm: 'r4' } });
    });
  });
});
