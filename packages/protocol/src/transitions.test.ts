import { describe, expect, it } from 'vitest';
import { ACTION_TYPES } from './messages.ts';
import { ACTION_TRANSITIONS, actionPath, STATE_AFTER, stateAfter } from './transitions.ts';

describe('the one transition table', () => {
  it('gives the paths of the life cycle: a pause before a suspend, an unpause after a resume', () => {
    expect(actionPath('waiting', 'running')).toEqual(['run']);
    expect(actionPath('running', 'sleeping')).toEqual(['pause', 'suspend']);
    expect(actionPath('paused', 'sleeping')).toEqual(['suspend']);
    expect(actionPath('sleeping', 'running')).toEqual(['resume', 'unpause']);
    expect(actionPath('paused', 'running')).toEqual(['unpause']);
    expect(actionPath('running', 'terminated')).toEqual(['stop']);
    expect(actionPath('sleeping', 'terminated')).toEqual(['stop']);
    expect(actionPath('running', 'running')).toEqual([]);
    expect(actionPath('terminated', 'running')).toBeUndefined();
    // A queued VM is dropped without running: no action.
    expect(actionPath('waiting', 'terminated')).toEqual([]);
    expect(actionPath('sleeping', 'waiting')).toBeUndefined();
  });

  it('every path replays through stateAfter, and every step of it is an entry of the table', () => {
    const states = ['waiting', 'running', 'paused', 'sleeping', 'terminated'] as const;
    for (const from of states)
      for (const to of states) {
        const path = actionPath(from, to);
        if (!path || path.length === 0) continue;
        let at: (typeof states)[number] | undefined = from;
        for (const type of path) at = at && stateAfter(type, at);
        expect(at).toBe(to);
      }
  });

  it("the agent's default state after each action is the end of the action's first transition", () => {
    for (const type of ACTION_TYPES) expect(STATE_AFTER[type]).toBe(ACTION_TRANSITIONS[type][0]!.to);
    expect(STATE_AFTER).toMatchObject({
      run: 'running',
      suspend: 'sleeping',
      resume: 'paused',
      migrate: 'running',
      unpause: 'running',
    });
  });
});
