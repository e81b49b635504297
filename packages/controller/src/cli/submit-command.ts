import { parseVJobFile } from '../queue/vjob-file.ts';
import { ErrorCode } from '../errors.ts';
import { readJsonFile, type CommandResult } from './io.ts';
import { controlRequest, type ControlClientOptions } from './queue-request.ts';

export const SUBMIT_HELP = `
FILE is a vjob file (JSON):
  { "id": "j1", "priority": 0,
    "vms": [{ "id": "j1-vm1", "cpu": 1, "mem": 512 }, { "id": "j1-vm2", "cpu": 1, "mem": 512, "resources": { "gpu": 1 } }] }
It is checked here, then by the controller, which queues it; the control loop's policy decides when it runs.

Exit codes: 0 queued, 1 invalid file, no controller, or refused (an id already in use)`;

/** `entropy submit FILE`: validates a vjob file locally, then asks the controller to queue it. */
export async function submitCommand(file: string, options: ControlClientOptions = {}): Promise<CommandResult> {
  const vjob = parseVJobFile(readJsonFile(file, ErrorCode.InvalidVJob), file);
  const reply = await controlRequest('submit', { kind: 'submitRequest', msg: { vjob: { id: vjob.id, priority: vjob.priority, vms: vjob.vms.map((vm) => ({ id: vm.id, demand: { ...vm.demand, cpu: vm.demand.cpu ?? 0, mem: vm.demand.mem ?? 0 } })) } } }, 'submitReply', options);
  if (!reply.ok) return { output: `submit refused (${reply.error.code}): ${reply.error.message}`, exitCode: 1 };
  const v = reply.vjob;
  return { output: `vjob ${v.id} submitted: ${v.state} (${v.vms.length} VM${v.vms.length === 1 ? '' : 's'}, priority ${v.priority})`, exitCode: 0 };
}
