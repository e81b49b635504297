import { type ApplyReply, EntropyError, ErrorCode, encodeControl, subjects } from '@entropy/protocol';
import { newPlanId } from '../controller/controller.ts';
import { askController, connectNats } from '../controller/nats-connect.ts';
import { parseSavedPlan } from '../review/saved-plan-file.ts';
import { readJsonFile, type CommandResult } from '../command-io/io.ts';
import { type ApplyCommandOptions, type ApplyIo, defaultIo, followReply, refusal } from './apply-command.ts';

/**
 * `entropy apply --plan FILE [--skip ID...]`: the controller executes the saved plan (without the
 * skipped actions) only if the cluster still matches the configuration it was computed from, under
 * a new execution id (agents never run an action id twice; the saved plan's own id names the file).
 */
export async function applySaved(
  target: string | undefined,
  options: ApplyCommandOptions,
  io: ApplyIo = defaultIo,
): Promise<CommandResult> {
  const file = options.plan;
  if (file === undefined) throw new EntropyError(ErrorCode.Io, '--skip needs --plan FILE');
  if (target !== undefined)
    throw new EntropyError(ErrorCode.Io, `apply --plan ${file}: no target as well (got ${target})`);
  if (options.out !== undefined || options.dryRun)
    throw new EntropyError(ErrorCode.Io, 'apply --plan executes a saved plan: no --out or --dry-run with it');
  const saved = parseSavedPlan(readJsonFile(file, ErrorCode.InvalidPlan), file);
  const { createdAt, ...plan } = saved;
  const nc = await connectNats(options, 'entropy-apply');
  const url = options.nats ?? nc.getServer();
  try {
    const s = subjects(options.prefix);
    const planId = newPlanId('saved');
    const progress = nc.subscribe(s.planProgress(planId));
    await nc.flush();
    io.write(`saved plan ${saved.id} of ${createdAt}, executed as ${planId}`);
    const reply: ApplyReply = await askController(
      nc,
      { subjects: s, url },
      'execute',
      encodeControl('executeRequest', {
        planId,
        plan,
        ...(options.skip?.length ? { skip: [...options.skip] } : {}),
        ...(options.mode ? { mode: options.mode } : {}),
      }),
      'executeReply',
      60_000,
    );
    if (!reply.ok) {
      progress.unsubscribe();
      return refusal('apply --plan', reply.error);
    }
    // The VMs' memory for --results: the saved configuration's.
    const memOf = new Map(
      plan.configuration.vms.flatMap((v) => (v.demand.mem !== undefined ? [[v.id, v.demand.mem]] : [])),
    );
    return await followReply(nc, { subjects: s, url }, planId, reply, progress, options, io, memOf);
  } finally {
    await nc.close();
  }
}
