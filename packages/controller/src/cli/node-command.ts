import { setTimeout as delay } from 'node:timers/promises';
import type { StatusReply } from '@entropy/protocol';
import type { CommandResult } from '../command-io/io.ts';
import { controlRequest, type ControlClientOptions } from './queue-request.ts';

export const NodeVerb = { Boot: 'boot', Shutdown: 'shutdown', Drain: 'drain', Undrain: 'undrain' } as const;
export type NodeVerb = (typeof NodeVerb)[keyof typeof NodeVerb];

export interface NodeCommandOptions extends ControlClientOptions {
  /** Wait until the node is online (boot) or powered off (shutdown), at most this many milliseconds. */
  readonly wait?: number;
}

/** Exit codes of `entropy node`; 1 (bad input, no controller, refused) is main.ts's for every user-reachable error. */
export const NodeExit = { Ok: 0, Refused: 1, NotReached: 4 } as const;

/** `entropy node boot|shutdown N`: the state an operator wants the node in; the control loop gets it there. */
export async function nodeCommand(
  verb: NodeVerb,
  node: string,
  options: NodeCommandOptions = {},
): Promise<CommandResult> {
  if (verb === NodeVerb.Drain || verb === NodeVerb.Undrain) return drainCommand(verb === NodeVerb.Drain, node, options);
  const state = verb === NodeVerb.Boot ? 'online' : 'offline';
  const reply = await controlRequest('node', { kind: 'nodeRequest', msg: { node, state } }, 'nodeReply', options);
  if (!reply.ok)
    return { output: `node ${verb} refused (${reply.error.code}): ${reply.error.message}`, exitCode: NodeExit.Refused };
  const lines = [`node ${node} wanted ${state} (${reply.liveness} now)${reply.note ? `: ${reply.note}` : ''}`];
  if (options.wait === undefined) return { output: lines.join('\n'), exitCode: NodeExit.Ok };
  const deadline = Date.now() + options.wait;
  for (;;) {
    const st = await controlRequest('status', { kind: 'statusRequest', msg: {} }, 'statusReply', options).catch(
      () => undefined,
    );
    if (st && reached(st, node, state)) {
      lines.push(`node ${node} is ${state === 'online' ? 'online' : 'powered off'}`);
      return { output: lines.join('\n'), exitCode: NodeExit.Ok };
    }
    if (Date.now() > deadline) {
      lines.push(
        `node ${node} did not reach ${state} within ${options.wait} ms: see entropy status and the controller's log`,
      );
      return { output: lines.join('\n'), exitCode: NodeExit.NotReached };
    }
    await delay(500);
  }
}

function reached(st: StatusReply, node: string, state: 'online' | 'offline'): boolean {
  const n = st.nodes.find((x) => x.id === node);
  return state === 'online' ? n?.liveness === 'online' : n?.poweredOff === true;
}

/** `entropy node drain|undrain N`: no VM runs on the node until undrained; `--wait` until a drained node runs none. */
async function drainCommand(drain: boolean, node: string, options: NodeCommandOptions): Promise<CommandResult> {
  const verb = drain ? 'drain' : 'undrain';
  const reply = await controlRequest('node', { kind: 'nodeRequest', msg: { node, drain } }, 'nodeReply', options);
  if (!reply.ok)
    return { output: `node ${verb} refused (${reply.error.code}): ${reply.error.message}`, exitCode: NodeExit.Refused };
  const lines = [
    `node ${node} ${drain ? 'drained' : 'undrained'} (${reply.liveness} now)${reply.note ? `: ${reply.note}` : ''}`,
  ];
  if (options.wait === undefined || !drain) return { output: lines.join('\n'), exitCode: NodeExit.Ok };
  const deadline = Date.now() + options.wait;
  for (;;) {
    const st = await controlRequest('status', { kind: 'statusRequest', msg: {} }, 'statusReply', options).catch(
      () => undefined,
    );
    if (st && !st.vms.some((v) => v.host === node && (v.state === 'running' || v.state === 'paused'))) {
      lines.push(`node ${node} runs no VM`);
      return { output: lines.join('\n'), exitCode: NodeExit.Ok };
    }
    if (Date.now() > deadline) {
      lines.push(`node ${node} still runs VMs after ${options.wait} ms: see entropy status and the controller's log`);
      return { output: lines.join('\n'), exitCode: NodeExit.NotReached };
    }
    await delay(500);
  }
}
