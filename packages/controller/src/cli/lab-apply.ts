import type { NatsConnection } from '@nats-io/transport-node';
import { applyCommand } from './apply-command.ts';
import type { NatsAuthFlags } from '../controller/nats-connect.ts';
import { journaledActions, type JournaledAction } from '../lab/journaled-actions.ts';

/** One `entropy apply` on a lab, and what its plan did as the controller's journal tells it. */
export interface LabApplied {
  readonly planId: string;
  /** What `entropy apply` prints: the plan, then its summary (measured against estimated, skews). */
  readonly output: string;
  readonly exitCode: number;
  readonly actions: readonly JournaledAction[];
}

/** How long a refusal because the controller is busy (a plan ending, statuses not in yet) is retried. */
const BUSY_RETRY_MS = 30_000;

/**
 * `entropy apply TARGET --nats URL --creds FILE` in this process, quietly; `nc` reads the journal. Right after a
 * plan, the controller refuses with ENTROPY_BUSY until the plan is closed and every agent has
 * reported again (a fraction of a second): such a refusal is tried again.
 */
export async function applyOnLab(nc: NatsConnection, nats: NatsAuthFlags, target: string): Promise<LabApplied> {
  let text = '';
  const once = () => {
    text = '';
    return applyCommand(target, nats, { write: (t) => void (text += `${t}\n`), bars: false, log: () => {} });
  };
  const deadline = Date.now() + BUSY_RETRY_MS;
  let r = await once();
  while (r.exitCode !== 0 && r.output.includes('(ENTROPY_BUSY)') && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    r = await once();
  }
  const planId = /^plan (\S+)$/m.exec(text)?.[1] ?? '';
  const output = `${text}${r.output}`;
  return { planId, output, exitCode: r.exitCode, actions: planId ? await journaledActions(nc, planId) : [] };
}
