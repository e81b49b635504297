import { connect } from '@nats-io/transport-node';
import { watch } from '@entropy/protocol';
import { Command } from 'commander';
import { NatsAuthError, type NatsAuthFlags, natsClientSettings } from './nats-auth.ts';
import { addNatsOptions } from './nats-auth-options.ts';

const program = new Command('entropy-watch').description('print every Entropy message under a prefix as a decoded JSON line');
addNatsOptions(program)
  .option('--prefix <prefix>', 'subject prefix', 'entropy')
  .parse();
const opts = program.opts<NatsAuthFlags & { prefix: string }>();

let nc;
try {
  const nats = await natsClientSettings(opts);
  nc = await connect({ servers: nats.servers, name: 'entropy-watch', ...nats.options });
} catch (err) {
  process.stderr.write(`entropy-watch: ${err instanceof NatsAuthError ? err.message : `cannot connect to NATS: ${(err as Error).message}`}\n`);
  process.exit(1);
}
const conn = nc;
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void conn.drain().then(() => process.exit(0)));
await watch(conn, (line) => process.stdout.write(`${line}\n`), opts.prefix);
