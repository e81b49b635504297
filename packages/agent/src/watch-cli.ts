import { connect } from '@nats-io/transport-node';
import { watch } from '@entropy/protocol';
import { Command } from 'commander';

const program = new Command('entropy-watch')
  .description('print every Entropy message under a prefix as a decoded JSON line')
  .option('--nats <url>', 'NATS server URL', 'nats://127.0.0.1:4222')
  .option('--prefix <prefix>', 'subject prefix', 'entropy')
  .parse();
const opts = program.opts<{ nats: string; prefix: string }>();

const nc = await connect({ servers: opts.nats, name: 'entropy-watch' });
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void nc.drain().then(() => process.exit(0)));
await watch(nc, (line) => process.stdout.write(`${line}\n`), opts.prefix);
