/** The kinds of rule a plan can break, in the order the verifier checks them. */
export type ViolationKind =
  | 'malformed'
  | 'capacity'
  | 'transition'
  | 'synchrony'
  | 'dependency'
  | 'barrier'
  | 'final-state'
  | 'node-power'
  | 'network'
  | 'constraint';

/** The first rule a plan breaks: what, when (`at`, in ms of the timed view) and who is involved. */
export interface Violation {
  readonly kind: ViolationKind;
  readonly message: string;
  readonly at?: number;
  readonly actionId?: string;
  readonly node?: string;
  readonly vm?: string;
  readonly vjob?: string;
}

export type Verdict = { readonly ok: true } | { readonly ok: false; readonly violation: Violation };

export type ViolationSubject = Omit<Violation, 'kind' | 'message'>;

export function violation(kind: ViolationKind, message: string, subject: ViolationSubject = {}): Violation {
  return { kind, message, ...subject };
}
