import type { EntropyErrorCode, ErrorCode } from './error-codes.ts';
/**
 * The one base of every error Entropy's packages throw: a stable code of the registry
 * (error-codes.ts), a message for people, and the context a program needs (the field, the node, the
 * file...). The CLI prints any EntropyError as one line and never a stack trace.
 */
export class EntropyError extends Error {
  override name = 'EntropyError';
  readonly context: Readonly<Record<string, unknown>>;
  constructor(
    readonly code: EntropyErrorCode,
    message: string,
    options?: { readonly cause?: unknown; readonly context?: Readonly<Record<string, unknown>> },
  ) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.context = options?.context ?? {};
  }
}

/** One problem in an input file: the JSON path of the offending value and why it is wrong. */
export interface InputIssue {
  readonly path: string;
  readonly reason: string;
}

/** A malformed instance or plan file. `issues` lists every problem found, in file order. */
export class InvalidInputError extends EntropyError {
  override name = 'InvalidInputError';
  declare readonly code: ErrorCode;
  constructor(
    code: ErrorCode,
    readonly file: string,
    readonly issues: readonly InputIssue[],
  ) {
    super(code, `${file}: ${issues.map((i) => `${i.path}: ${i.reason}`).join('\n  ')}`, { context: { file, issues } });
  }
}

/** Formats a JSON path from its segments: ['vms', 3, 'host'] -> '$.vms[3].host'. */
export function jsonPath(segments: readonly PropertyKey[]): string {
  let out = '$';
  for (const s of segments) out += typeof s === 'number' ? `[${s}]` : `.${String(s)}`;
  return out;
}
