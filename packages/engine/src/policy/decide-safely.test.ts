import { describe, expect, it } from 'vitest';
import { decideSafely } from './decide-safely.ts';
import { InvalidDecisionError, PolicyError, PolicyErrorCode } from './policy-errors.ts';
import type { Configuration, VM } from '../model/configuration.ts';
import type { VMState } from '../model/lifecycle.ts';
import type { Policy } from './policy.ts';
import { cluster, node } from '@entropy/test-support/policy-cluster.ts';
import { validateDecision } from './validate-decision.ts';

const view = cluster([node('n1', 4, 8192)], {
  r: { state: 'running', vms: 1, hosts: ['n1'] },
  w: { state: 'waiting', vms: 1 },
  t: { state: 'terminated', vms: 1 },
});
const lastGood = { r: 'running' } as const;
const policyOf = (decide: Policy['decide']): Policy => ({ name: 'broken', decide });

describe('validateDecision', () => {
  it('accepts allowed transitions', () => {
    expect(validateDecision({ r: 'sleeping', w: 'running' }, view.configuration)).toEqual({
      r: 'sleeping',
      w: 'running',
    });
  });

  it.each([
    [{ ghost: 'running' }, "vjob 'ghost': unknown vjob"],
    [{ w: 'flying' }, `vjob 'w': unknown state "flying"`],
    [
      { t: 'running' },
      "vjob 't': VM 't-vm1' is terminated: it cannot go to running (from terminated the life cycle allows terminated)",
    ],
    [{ w: 'sleeping' }, "vjob 'w': VM 'w-vm1' is waiting (never ran): it cannot go to sleeping"],
    [['r'], 'expected an object mapping vjob ids to states, got an array'],
    [null, 'got null'],
  ])('rejects %j with a message naming the vjob and the reason', (decision, message) => {
    const attempt = () => validateDecision(decision, view.configuration, 'mine');
    expect(attempt).toThrow(InvalidDecisionError);
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (e) {
      expect((e as InvalidDecisionError).code).toBe(PolicyErrorCode.InvalidDecision);
    }
  });
});

describe('validateDecision on a vjob whose VMs are in mixed states', () => {
  // j1 was cut short: vm1 and vm2 run or are paused, vm3 never ran, vm4 is asleep.
  const mixed = (states: readonly VMState[]): Configuration => {
    const vms: VM[] = states.map((state, i) => ({
      id: `j1-vm${i + 1}`,
      vjob: 'j1',
      state,
      demand: { cpu: 1, mem: 1024 },
      ...(state === 'waiting' || state === 'terminated' ? {} : { host: 'n1' }),
    }));
    return {
      nodes: [node('n1', 8, 16384)],
      vms,
      vjobs: [{ id: 'j1', vms: vms.map((v) => v.id), priority: 0, submittedAt: 0 }],
    };
  };

  it('accepts a state every VM can reach', () => {
    expect(validateDecision({ j1: 'running' }, mixed(['running', 'paused', 'waiting', 'sleeping']))).toEqual({
      j1: 'running',
    });
    expect(validateDecision({ j1: 'sleeping' }, mixed(['running', 'paused', 'sleeping']))).toEqual({ j1: 'sleeping' });
    expect(validateDecision({ j1: 'terminated' }, mixed(['paused', 'waiting']))).toEqual({ j1: 'terminated' });
  });

  it('refuses a state one VM cannot reach, naming the vjob, the VM and why', () => {
    const attempt = () => validateDecision({ j1: 'sleeping' }, mixed(['running', 'paused', 'waiting']), 'mine');
    expect(attempt).toThrow(
      "policy 'mine' returned an invalid decision: vjob 'j1': VM 'j1-vm3' is waiting (never ran): it cannot go to sleeping (from waiting the life cycle allows waiting, running, terminated)",
    );
    try {
      attempt();
    } catch (e) {
      expect(e).toMatchObject({ code: PolicyErrorCode.InvalidDecision, vjob: 'j1' });
    }
    expect(() => validateDecision({ j1: 'waiting' }, mixed(['paused', 'sleeping']))).toThrow(
      "VM 'j1-vm1' is paused: it cannot go to waiting",
    );
  });
});

describe('decideSafely', () => {
  it('returns the policy decision when it is valid', () => {
    expect(
      decideSafely(
        policyOf(() => ({ w: 'running' })),
        view,
        lastGood,
      ),
    ).toEqual({ decision: { w: 'running' } });
  });

  it('keeps the last good decision when the policy throws', () => {
    const out = decideSafely(
      policyOf(() => {
        throw new Error('boom');
      }),
      view,
      lastGood,
    );
    expect(out.decision).toEqual(lastGood);
    expect(out.error?.code).toBe(PolicyErrorCode.PolicyFailed);
    expect(out.error?.message).toBe("policy 'broken' threw: boom");
  });

  it('keeps the last good decision when the policy returns an unknown state', () => {
    const out = decideSafely(
      policyOf(() => ({ w: 'bogus' }) as never),
      view,
      lastGood,
    );
    expect(out.decision).toEqual(lastGood);
    expect(out.error).toBeInstanceOf(InvalidDecisionError);
    expect((out.error as InvalidDecisionError).vjob).toBe('w');
  });

  it('keeps the last good decision when the policy asks terminated -> running', () => {
    const out = decideSafely(
      policyOf(() => ({ t: 'running' })),
      view,
      lastGood,
    );
    expect(out.decision).toEqual(lastGood);
    expect(out.error?.code).toBe(PolicyErrorCode.InvalidDecision);
    expect(out.error?.message).toContain("vjob 't': VM 't-vm1' is terminated: it cannot go to running");
  });

  it('drops from the last good decision what the life cycle no longer allows', () => {
    const out = decideSafely(
      policyOf(() => {
        throw new Error('x');
      }),
      view,
      { t: 'running', w: 'running' },
    );
    expect(out.decision).toEqual({ w: 'running' });
  });

  it('refuses an asynchronous decide', () => {
    const out = decideSafely(policyOf((async () => ({})) as never), view, lastGood);
    expect(out.error?.message).toContain('decide must be synchronous');
  });
});
