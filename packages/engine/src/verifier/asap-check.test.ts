import { describe, expect, it } from 'vitest';
import { verifyPlan } from './index.ts';
import { action, configuration, node, plan, vm } from '@entropy/test-support/verifier-fixtures.ts';

describe('the ASAP view', () => {
  // n1 and n2 hold one cpu each: x must leave n1 before y arrives there.
  const config = configuration(
    [node('n1', 1), node('n2', 2), node('n3', 1)],
    [vm('x', 'jx', 'running', 'n1'), vm('y', 'jy', 'running', 'n2'), vm('w', 'jw', 'running', 'n3')],
  );
  const decision = { jw: 'terminated' } as const;
  const target = { x: { state: 'running', host: 'n2' }, y: { state: 'running', host: 'n1' } } as const;
  const moves = (yDeps: string[]) => [
    action(config, 'mx', 'migrate', 'x', { from: 'n1', to: 'n2', start: 0, end: 1024, step: 0 }),
    action(config, 'sw', 'stop', 'w', { from: 'n3', start: 0, end: 1024, step: 0 }),
    action(config, 'my', 'migrate', 'y', { from: 'n2', to: 'n1', start: 1024, end: 2048, step: 1, dependsOn: yDeps }),
  ];

  it('accepts an arrival that depends on the departure making room for it', () => {
    expect(verifyPlan(config, decision, plan(moves(['mx']), target))).toEqual({ ok: true });
  });

  it('reports an arrival whose dependencies do not guarantee room, although the timed and barrier views fit', () => {
    const verdict = verifyPlan(config, decision, plan(moves(['sw']), target));
    expect(verdict).toMatchObject({
      ok: false,
      violation: { kind: 'dependency', actionId: 'my', node: 'n1', vm: 'y' },
    });
    if (!verdict.ok)
      expect(verdict.violation.message).toContain(
        "ASAP execution is unsafe: action 'my' may start bringing VM 'y' onto node 'n1'",
      );
  });

  it('counts departures its dependencies guarantee transitively', () => {
    const chained = [
      ...moves(['sw']).slice(0, 1),
      action(config, 'sw', 'stop', 'w', { from: 'n3', start: 1024, end: 1024, step: 1, dependsOn: ['mx'] }),
    ];
    const y = action(config, 'my', 'migrate', 'y', {
      from: 'n2',
      to: 'n1',
      start: 1024,
      end: 2048,
      step: 2,
      dependsOn: ['sw'],
    });
    expect(verifyPlan(config, decision, plan([...chained, y], target))).toEqual({ ok: true });
  });

  it('does not apply to a plan that declares no dependency (a barrier-only plan)', () => {
    expect(verifyPlan(config, decision, plan(moves([]), target))).toEqual({ ok: true });
  });
});
