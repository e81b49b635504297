import { existsSync } from 'node:fs';
import { type ApplyRequest, EntropyError, ErrorCode } from '@entropy/protocol';
import {
  type CostModel,
  type CostModelOverrides,
  costModelOverrides,
  costModelWith,
  parseInstance,
  VJOB_STATES,
  type VJobState,
} from '@entropy/engine';
import { readJsonFile } from '../command-io/io.ts';

export type ApplySource = Pick<ApplyRequest, 'decision' | 'vms' | 'vjobs' | 'costModel' | 'constraints'>;

const INLINE_RE = /^[^=,\s]+=[a-z]+(,[^=,\s]+=[a-z]+)*$/;

/**
 * What `entropy apply` was given: an instance file (its decision, and its VMs and vjobs so that
 * the controller knows their vjobs, demands and waiting VMs), a decision file (`{"j1": "sleeping"}`
 * or `{"decision": {...}}`), or an inline decision (`j1=sleeping,j2=running`).
 */
export function readApplySource(target: string): ApplySource {
  if (target === '-' || existsSync(target)) {
    const json = readJsonFile(target);
    if (json !== null && typeof json === 'object' && 'nodes' in json) return fromInstance(json, target);
    const decision =
      json !== null && typeof json === 'object' && 'decision' in json ? (json as { decision: unknown }).decision : json;
    return { decision: checkDecision(decision, target) };
  }
  if (INLINE_RE.test(target)) {
    return {
      decision: checkDecision(
        Object.fromEntries(target.split(',').map((p) => p.split('=') as [string, string])),
        'decision',
      ),
    };
  }
  throw new EntropyError(
    ErrorCode.Io,
    `${target}: no such file, and not an inline decision such as j1=running,j2=sleeping`,
  );
}

function fromInstance(json: object, file: string): ApplySource {
  const instance = parseInstance(json, file);
  if (Object.keys(instance.decision).length === 0)
    throw new EntropyError(ErrorCode.InvalidInstance, `${file}: $.decision: the instance has no decision to apply`);
  const raw = (json as { costModel?: ApplySource['costModel'] }).costModel;
  // Checked by parseInstance; sent as written (ids and vjob shorthands), the controller resolves them against the cluster.
  const constraints = (json as { constraints?: ApplySource['constraints'] }).constraints;
  return {
    decision: instance.decision,
    vms: instance.configuration.vms.map((v) => ({
      id: v.id,
      vjob: v.vjob,
      demand: { ...v.demand, cpu: v.demand.cpu ?? 0, mem: v.demand.mem ?? 0 },
      state: v.state,
    })),
    vjobs: instance.configuration.vjobs.map((j) => ({ id: j.id, priority: j.priority, submittedAt: j.submittedAt })),
    ...(raw ? { costModel: raw } : {}),
    ...(constraints?.length ? { constraints } : {}),
  };
}

function checkDecision(value: unknown, where: string): Record<string, VJobState> {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new EntropyError(ErrorCode.InvalidInstance, `${where}: $: a decision maps vjob ids to states`);
  for (const [vjob, state] of Object.entries(value)) {
    if (!VJOB_STATES.includes(state as VJobState)) {
      throw new EntropyError(
        ErrorCode.InvalidInstance,
        `${where}: $.${vjob}: unknown state ${JSON.stringify(state)} (expected one of ${VJOB_STATES.join(', ')})`,
      );
    }
  }
  return value as Record<string, VJobState>;
}

/**
 * The source planned with a cost model (`entropy apply --cost-model FILE`): every line of the
 * model, the target instance's own overrides over it. The controller applies them over its own
 * model, so the whole of this one wins.
 */
export function withCostModel(source: ApplySource, model: CostModel): ApplySource {
  return {
    ...source,
    costModel: costModelOverrides(costModelWith(source.costModel as CostModelOverrides | undefined, model)),
  };
}
