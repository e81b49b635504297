import { decode, type MessageKind } from './codec.ts';
import { subjects as subjectsOf } from './subjects.ts';

/** The little a subscription must offer: nats.js's `Subscription` fits, and so does a test double. */
export interface WatchSource {
  subscribe(subject: string): AsyncIterable<{ readonly subject: string; readonly data: Uint8Array }>;
}

const KIND_OF = {
  status: 'status',
  hello: 'hello',
  action: 'actionRequest',
  ledger: 'ledgerQuery',
  meta: 'vmMeta',
  power: 'powerRequest',
  simLink: 'simLinkRequest',
  progress: 'progress',
} as const;

/** Prints every message under `PREFIX.>` as one JSON line: `{ subject, msg }`, or `{ subject, error }` when it does not decode. */
export async function watch(source: WatchSource, write: (line: string) => void, prefix?: string): Promise<void> {
  const s = subjectsOf(prefix);
  for await (const m of source.subscribe(s.all())) {
    const parsed = s.parse(m.subject);
    const kind: MessageKind | undefined = parsed && parsed.kind !== 'control' ? KIND_OF[parsed.kind] : undefined;
    if (kind === undefined) {
      write(JSON.stringify({ subject: m.subject, bytes: m.data.length }));
      continue;
    }
    const r = decode(kind, m.data);
    write(JSON.stringify(r.ok ? { subject: m.subject, msg: r.msg } : { subject: m.subject, error: r.error }));
  }
}
