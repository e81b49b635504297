// A leader lease candidate in a process of its own, so a test can kill -9 it.
// Usage: node --import tsx test/helpers/lease-holder.ts URL PREFIX HOLDER LEASE_MS
// Prints one JSON line per state change: {"leading":true,"token":7,"holder":"..."}.
import { startLeaderLease } from '../../packages/controller/src/controller/leader-lease.ts';
import { connectNats } from '../../packages/controller/src/controller/nats-connect.ts';
import { silentLogger } from '../../packages/controller/src/controller/logger.ts';

const [url, prefix, holder, leaseMs] = process.argv.slice(2);
if (!url || !prefix || !holder || !leaseMs) throw new Error('usage: lease-holder.ts URL PREFIX HOLDER LEASE_MS');
const nc = await connectNats(url, holder, { reconnect: true });
const lease = await startLeaderLease(nc, { prefix, holder, leaseMs: Number(leaseMs), logger: silentLogger });
const print = (state: object) => process.stdout.write(`${JSON.stringify(state)}\n`);
lease.onChange(print);
print({ leading: lease.isLeader(), ...lease.current() });
