import { parseVJobFile } from '../queue/vjob-file.ts';
import { ErrorCode } from '@entropy/protocol';
import { readJsonFile, type CommandResult } from '../command-io/io.ts';
import { controlRequest, type ControlClientOptions } from './queue-request.ts';

/** `entropy submit FILE`: validates a vjob file locally, then asks the controller to queue it. */
export async function submitCommand(file: string, options: ControlClientOptions = {}): Promise<CommandResult> {
  const vjob = parseVJobFile(readJsonFile(file, ErrorCode.InvalidVJob), file);
  const reply = await controlRequest(
    'submit',
    {
      kind: 'submitRequest',
      msg: {
        vjob: {
          id: vjob.id,
          priority: vjob.priority,
          vms: vjob.vms.map((vm) => ({
            id: vm.id,
            demand: { ...vm.demand, cpu: vm.demand.cpu ?? 0, mem: vm.demand.mem ?? 0 },
          })),
          ...(vjob.constraints ? { constraints: vjob.constraints.map((c) => ({ ...c })) } : {}),
        },
      },
    },
    'submitReply',
    options,
  );
  if (!reply.ok) return { output: `submit refused (${reply.error.code}): ${reply.error.message}`, exitCode: 1 };
  const v = reply.vjob;
  return {
    output: `vjob ${v.id} submitted: ${v.state} (${v.vms.length} VM${v.vms.length === 1 ? '' : 's'}, priority ${v.priority})`,
    exitCode: 0,
  };
}
