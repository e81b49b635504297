import { connect } from '@nats-io/transport-node';
import { DEFAULT_INBOX_PREFIX, PREFIX_RE, Watcher } from '@entropy/protocol';
import { Command } from 'commander';
import { NatsAuthError, type NatsAuthFlags, natsClientSettings } from '@entropy/nats-client';
import { addNatsOptions } from '@entropy/nats-client';
import { watchSubscriptions } from './watch-subjects.ts';

const program = addNatsOptions(
  new Command('entropy-watch')
    .description(
      'print the messages of an Entropy bus, decoded, one JSON line each: requests, their replies, publications',
    )
    .argument(
      '[subjects...]',
      "NATS subjects to watch, wildcards allowed (e.g. 'entropy.node.*.action'); the replies to their requests are shown too (default: PREFIX.> and every reply)",
    ),
)
  .option('--prefix <prefix>', 'subject prefix', 'entropy')
  .option(
    '--inbox <prefixes>',
    `subject prefixes of the replies, comma-separated (clients with their own inboxPrefix)`,
    DEFAULT_INBOX_PREFIX,
  )
  .option(
    '--raw',
    'no decoding: each message as msgpack gives it, unvalidated (or its bytes in base64), chunks as they come',
  )
  .addHelpText(
    'after',
    `
Lines: {"subject","kind","msg"} (with "reply" for a request), {"subject","kind","inReplyTo","msg"} for a reply
(a control reply's chunks joined: "chunks"), "guessed": true for a reply whose request was not seen, "error"
for a message that does not decode, {"subject","bytes"} for a subject Entropy does not use.`,
  )
  .showHelpAfterError()
  .parse();
const opts = program.opts<NatsAuthFlags & { prefix: string; inbox: string; raw?: boolean }>();

function refuse(message: string): never {
  process.stderr.write(`entropy-watch: ${message}\n`);
  process.exit(1);
}

if (!PREFIX_RE.test(opts.prefix)) refuse(`--prefix: ${JSON.stringify(opts.prefix)} is not dot-separated tokens`);
const inboxPrefixes = opts.inbox
  .split(',')
  .map((p) => p.trim())
  .filter(Boolean);
if (inboxPrefixes.length === 0 || !inboxPrefixes.every((p) => /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/.test(p)))
  refuse(`--inbox: expected subject prefixes such as _INBOX, got ${JSON.stringify(opts.inbox)}`);
let plan: ReturnType<typeof watchSubscriptions>;
try {
  plan = watchSubscriptions(program.args, opts.prefix, inboxPrefixes);
} catch (err) {
  refuse((err as Error).message);
}

// `entropy-watch | head` closes the pipe early: that is the reader's choice.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const watcher = new Watcher({
  prefix: opts.prefix,
  inboxPrefixes,
  unpairedReplies: plan.unpairedReplies,
  raw: opts.raw,
});
let nc: Awaited<ReturnType<typeof connect>>;
let servers = '';
try {
  const nats = await natsClientSettings(opts);
  servers = nats.servers.join(',');
  nc = await connect({ servers: nats.servers, name: 'entropy-watch', ...nats.options });
} catch (err) {
  refuse(
    err instanceof NatsAuthError ? err.message : `cannot connect to ${servers || 'NATS'}: ${(err as Error).message}`,
  );
}
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void nc.drain().then(() => process.exit(0)));
// Callbacks, not iterators: the lines keep the order the server sent the messages in, across subscriptions.
for (const subject of plan.subjects) {
  const sub = nc.subscribe(subject, {
    callback: (err, m) => {
      if (err) return;
      for (const line of watcher.receive({ subject: m.subject, data: m.data, ...(m.reply ? { reply: m.reply } : {}) }))
        process.stdout.write(`${line}\n`);
    },
  });
  void sub.closed.then((err) => {
    if (err) process.stderr.write(`entropy-watch: ${subject}: ${err.message}\n`);
  });
}
const closed = await nc.closed();
if (closed) refuse(`connection to ${servers} lost: ${closed.message}`);
