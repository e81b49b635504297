import { ACTION_TYPES, type ActionRequest } from '@entropy/protocol';
import * as z from 'zod';
import { readJsonFile, writeFileAtomic } from '../state/state-dir.ts';
import { DriverConfigError } from './driver.ts';
import { RereadFile } from './reread-file.ts';

export const SimFault = { Fail: 'fail', FailFinal: 'fail-final', Hang: 'hang' } as const;
export type SimFault = (typeof SimFault)[keyof typeof SimFault];

export const faultRuleSchema = z.strictObject({
  id: z.string().min(1),
  match: z.strictObject({
    type: z.enum(ACTION_TYPES).optional(),
    vm: z.string().optional(),
    vjob: z.string().optional(),
  }),
  fault: z.enum(Object.values(SimFault) as [SimFault, ...SimFault[]]),
  times: z.number().int().min(0),
});
export type FaultRule = z.infer<typeof faultRuleSchema>;

const rulesSchema = z.array(faultRuleSchema).superRefine((rules, ctx) => {
  const seen = new Set<string>();
  rules.forEach((r, i) => {
    if (seen.has(r.id))
      ctx.addIssue({ code: 'custom', path: [i, 'id'], message: `duplicate rule id ${JSON.stringify(r.id)}` });
    seen.add(r.id);
  });
});

const firedSchema = z.object({ fired: z.record(z.string(), z.number().int().min(0)) });

/** Parses a fault file's text; throws DriverConfigError naming the file and the JSON path. */
export function parseFaultRules(text: string, file: string): FaultRule[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DriverConfigError(file, `not JSON: ${(err as Error).message}`);
  }
  const r = rulesSchema.safeParse(json);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new DriverConfigError(
    `${file}: $${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}`,
    issue.message,
  );
}

const matches = (rule: FaultRule, req: ActionRequest) =>
  (rule.match.type === undefined || rule.match.type === req.type) &&
  (rule.match.vm === undefined || rule.match.vm === req.vm) &&
  (rule.match.vjob === undefined || rule.match.vjob === req.vjob);

export interface SimFaultsOptions {
  /** The rules file; it may appear, change or disappear while the agent runs. */
  readonly file: string;
  /** Where fire counts are kept, so that a restarted agent does not fire a rule again. */
  readonly firedFile?: string;
}

/**
 * Runtime fault injection: the first rule that matches an action and has fires left fires once.
 * The rules file is re-read when it changes (one stat per action); a file that does not parse
 * (being written) leaves the previous rules in force until it does. A rule's fires are counted
 * by its id: to arm it again, give it a new id.
 */
export class SimFaults {
  private readonly rules: RereadFile<FaultRule[]>;
  private readonly fired = new Map<string, number>();

  constructor(private readonly opts: SimFaultsOptions) {
    if (opts.firedFile) {
      const r = firedSchema.safeParse(readJsonFile(opts.firedFile) ?? { fired: {} });
      if (r.success) for (const [id, n] of Object.entries(r.data.fired)) this.fired.set(id, n);
    }
    this.rules = new RereadFile(opts.file, parseFaultRules, []);
  }

  /** The rule that fires for this action, if any; its fire is counted (and saved) before it returns. */
  fire(req: ActionRequest): FaultRule | undefined {
    const rule = this.rules.current().find((r) => matches(r, req) && (this.fired.get(r.id) ?? 0) < r.times);
    if (!rule) return undefined;
    this.fired.set(rule.id, (this.fired.get(rule.id) ?? 0) + 1);
    if (this.opts.firedFile)
      writeFileAtomic(this.opts.firedFile, JSON.stringify({ fired: Object.fromEntries(this.fired) }));
    return rule;
  }

  firedCount(id: string): number {
    return this.fired.get(id) ?? 0;
  }
}
