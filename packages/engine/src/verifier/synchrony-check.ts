import type { VM } from '../model/configuration.ts';
import type { PlannedAction } from '../model/plan.ts';
import type { PlanContext } from './plan-context.ts';
import type { Replay } from './transition-check.ts';
import { violation, type Violation } from './violation.ts';

interface VjobActions {
  readonly pause: PlannedAction[];
  readonly unpause: PlannedAction[];
  readonly suspend: PlannedAction[];
  readonly resume: PlannedAction[];
  /** Migrations of VMs that are paused while they move. */
  readonly pausedMigrate: PlannedAction[];
}
type GroupType = 'pause' | 'unpause' | 'suspend' | 'resume';
const isGroupType = (t: string): t is GroupType =>
  t === 'pause' || t === 'unpause' || t === 'suspend' || t === 'resume';

/**
 * A vjob is never seen half running, half paused by the plan: its VMs are paused as one group (one
 * start, one end, one step) before any of them is saved, and paused VMs are unpaused as one group
 * once none of them is still being restored or moved. So a vjob has at most one pause group and one
 * unpause group; every VM of the vjob running in the source belongs to the pause group, and every VM
 * paused in the source or resumed by the plan belongs to the unpause group.
 */
export function checkSynchrony(ctx: PlanContext, replay: Replay): Violation | undefined {
  const byVjob = new Map<string, VjobActions>();
  for (let i = 0; i < ctx.actions.length; i++) {
    const a = ctx.actions[i]!;
    const pausedMigrate = a.type === 'migrate' && replay.stateBefore[i] === 'paused';
    if (!isGroupType(a.type) && !pausedMigrate) continue;
    const vjob = ctx.vms[ctx.vmOf[i]!]!.vjob;
    let group = byVjob.get(vjob);
    if (group === undefined)
      byVjob.set(vjob, (group = { pause: [], unpause: [], suspend: [], resume: [], pausedMigrate: [] }));
    group[pausedMigrate ? 'pausedMigrate' : (a.type as GroupType)].push(a);
  }
  if (byVjob.size === 0) return undefined;
  const vmsOfVjob = new Map<string, VM[]>();
  for (const vm of ctx.vms) {
    if (!byVjob.has(vm.vjob)) continue;
    const list = vmsOfVjob.get(vm.vjob);
    if (list) list.push(vm);
    else vmsOfVjob.set(vm.vjob, [vm]);
  }
  for (const [vjob, g] of byVjob) {
    const found = checkVjob(vjob, g, vmsOfVjob.get(vjob)!);
    if (found) return found;
  }
  return undefined;
}

function checkVjob(vjob: string, g: VjobActions, vms: readonly VM[]): Violation | undefined {
  for (const type of ['pause', 'unpause'] as const) {
    const [first, ...rest] = g[type];
    for (const a of rest) {
      if (a.start !== first!.start || a.end !== first!.end || a.step !== first!.step)
        return violation(
          'synchrony',
          `vjob '${vjob}': ${type} '${a.id}' of VM '${a.vm}' (${when(a)}) is not together with ${type} '${first!.id}' (${when(first!)})`,
          subjectOf(a, vjob),
        );
    }
  }
  const pausesEnd = g.pause[0]?.end;
  for (const s of g.suspend) {
    if (pausesEnd !== undefined && s.start < pausesEnd)
      return violation(
        'synchrony',
        `vjob '${vjob}': suspend '${s.id}' of VM '${s.vm}' starts at ${s.start}, before the vjob's pauses end (${pausesEnd})`,
        subjectOf(s, vjob),
      );
  }
  const unpause = g.unpause[0];
  if (unpause !== undefined) {
    for (const r of g.resume) {
      if (unpause.start < r.end)
        return violation(
          'synchrony',
          `vjob '${vjob}': unpause '${unpause.id}' of VM '${unpause.vm}' starts at ${unpause.start}, before the vjob's resume '${r.id}' of VM '${r.vm}' ends (${r.end})`,
          subjectOf(unpause, vjob),
        );
    }
    for (const m of g.pausedMigrate) {
      if (unpause.start < m.end)
        return violation(
          'synchrony',
          `vjob '${vjob}': unpause '${unpause.id}' of VM '${unpause.vm}' starts at ${unpause.start}, before the migration '${m.id}' of paused VM '${m.vm}' ends (${m.end})`,
          subjectOf(unpause, vjob),
        );
    }
  }
  if (g.pause.length > 0 || g.suspend.length > 0) {
    const paused = new Set(g.pause.map((a) => a.vm));
    const left = vms.find((vm) => vm.state === 'running' && !paused.has(vm.id));
    if (left !== undefined) {
      const a = g.pause[0] ?? g.suspend[0]!;
      return violation(
        'synchrony',
        `vjob '${vjob}' is paused but its running VM '${left.id}' is not paused with the others`,
        { ...subjectOf(a, vjob), vm: left.id },
      );
    }
  }
  const unpaused = new Set(g.unpause.map((a) => a.vm));
  for (const r of g.resume) {
    if (!unpaused.has(r.vm))
      return violation(
        'synchrony',
        `vjob '${vjob}': VM '${r.vm}' is resumed by '${r.id}' but not unpaused with the vjob`,
        subjectOf(r, vjob),
      );
  }
  if (unpause !== undefined) {
    const left = vms.find((vm) => vm.state === 'paused' && !unpaused.has(vm.id));
    if (left !== undefined)
      return violation(
        'synchrony',
        `vjob '${vjob}' is unpaused but its VM '${left.id}', paused in the source, is not unpaused with the others`,
        { ...subjectOf(unpause, vjob), vm: left.id },
      );
  }
  return undefined;
}

const when = (a: PlannedAction) => `start ${a.start}, end ${a.end}, step ${a.step}`;

function subjectOf(a: PlannedAction, vjob: string) {
  return { actionId: a.id, vm: a.vm, vjob, at: a.start };
}
