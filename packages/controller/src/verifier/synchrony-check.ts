import type { VM } from '../model/configuration.ts';
import type { PlannedAction } from '../model/plan.ts';
import type { PlanContext } from './plan-context.ts';
import { violation, type Violation } from './violation.ts';

interface VjobActions {
  readonly pause: PlannedAction[];
  readonly unpause: PlannedAction[];
  readonly suspend: PlannedAction[];
  readonly resume: PlannedAction[];
}
type GroupType = keyof VjobActions;
const isGroupType = (t: string): t is GroupType => t === 'pause' || t === 'unpause' || t === 'suspend' || t === 'resume';

/**
 * A vjob is never seen half running, half paused: its VMs are paused as one group (one start, one
 * end, one step) before any of them is saved, and restored images are unpaused as one group after
 * the last of them is restored. Every VM of the vjob running in the source belongs to the pause
 * group, and every VM resumed belongs to the unpause group.
 */
export function checkSynchrony(ctx: PlanContext): Violation | undefined {
  const byVjob = new Map<string, VjobActions>();
  for (let i = 0; i < ctx.actions.length; i++) {
    const a = ctx.actions[i]!;
    if (!isGroupType(a.type)) continue;
    const vjob = ctx.vms[ctx.vmOf[i]!]!.vjob;
    let group = byVjob.get(vjob);
    if (group === undefined) byVjob.set(vjob, (group = { pause: [], unpause: [], suspend: [], resume: [] }));
    group[a.type].push(a);
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
        return violation('synchrony', `vjob '${vjob}': ${type} '${a.id}' of VM '${a.vm}' (${when(a)}) is not together with ${type} '${first!.id}' (${when(first!)})`, subjectOf(a, vjob));
    }
  }
  const pausesEnd = g.pause[0]?.end;
  for (const s of g.suspend) {
    if (pausesEnd !== undefined && s.start < pausesEnd)
      return violation('synchrony', `vjob '${vjob}': suspend '${s.id}' of VM '${s.vm}' starts at ${s.start}, before the vjob's pauses end (${pausesEnd})`, subjectOf(s, vjob));
  }
  const resumesEnd = Math.max(...g.resume.map((r) => r.end));
  for (const u of g.unpause) {
    if (u.start < resumesEnd)
      return violation('synchrony', `vjob '${vjob}': unpause '${u.id}' of VM '${u.vm}' starts at ${u.start}, before the vjob's resumes end (${resumesEnd})`, subjectOf(u, vjob));
  }
  if (g.pause.length > 0 || g.suspend.length > 0) {
    const paused = new Set(g.pause.map((a) => a.vm));
    const left = vms.find((vm) => vm.state === 'running' && !paused.has(vm.id));
    if (left !== undefined) {
      const a = g.pause[0] ?? g.suspend[0]!;
      return violation('synchrony', `vjob '${vjob}' is paused but its running VM '${left.id}' is not paused with the others`, { ...subjectOf(a, vjob), vm: left.id });
    }
  }
  const unpaused = new Set(g.unpause.map((a) => a.vm));
  for (const r of g.resume) {
    if (!unpaused.has(r.vm))
      return violation('synchrony', `vjob '${vjob}': VM '${r.vm}' is resumed by '${r.id}' but not unpaused with the vjob`, subjectOf(r, vjob));
  }
  return undefined;
}

const when = (a: PlannedAction) => `start ${a.start}, end ${a.end}, step ${a.step}`;

function subjectOf(a: PlannedAction, vjob: string) {
  return { actionId: a.id, vm: a.vm, vjob, at: a.start };
}
