import type { CommandResult } from '../command-io/io.ts';
import { controlRequest, type ControlClientOptions } from './queue-request.ts';

/** `entropy cancel ID`: a waiting vjob ends at once; a running or sleeping one ends once the loop has stopped its VMs. */
export async function cancelCommand(id: string, options: ControlClientOptions = {}): Promise<CommandResult> {
  const reply = await controlRequest('cancel', { kind: 'cancelRequest', msg: { id } }, 'cancelReply', options);
  if (!reply.ok) return { output: `cancel refused (${reply.error.code}): ${reply.error.message}`, exitCode: 1 };
  const v = reply.vjob;
  if (v.state === 'terminated')
    return {
      output: `vjob ${v.id} ${v.end === 'finished' ? 'had already finished' : 'cancelled'}: terminated`,
      exitCode: 0,
    };
  return { output: `vjob ${v.id} is ${v.state}: cancel requested, the control loop stops its VMs`, exitCode: 0 };
}
