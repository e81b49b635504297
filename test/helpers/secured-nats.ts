import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '../../packages/agent/src/index.ts';
import { natsClientSettings } from '@entropy/nats-client';
import {
  type NatsConfigCommandOptions,
  type WrittenNatsConfig,
  writeNatsConfig,
} from '../../packages/controller/src/deploy/nats-config-command.ts';
import { type NatsServer, startNatsServer } from './nats-server.ts';

/** A nats-server started with the configuration `entropy deploy nats-config` writes: production users and permissions. */
export interface SecuredNats {
  readonly server: NatsServer;
  readonly url: string;
  readonly dir: string;
  readonly auth: WrittenNatsConfig;
  /** A user's credentials file. */
  creds(user: string): string;
  /** A connection with a user's credentials and inbox, as every Entropy process makes it. */
  connectAs(user: string, options?: { readonly reconnect?: boolean }): Promise<NatsConnection>;
  stop(): Promise<void>;
}

export async function startSecuredNats(
  opts: Omit<NatsConfigCommandOptions, 'out' | 'storeDir' | 'credsDir'>,
): Promise<SecuredNats> {
  const dir = await mkdtemp(join(tmpdir(), 'entropy-secured-nats-'));
  const auth = await writeNatsConfig({ ...opts, out: join(dir, 'nats-server.conf'), storeDir: join(dir, 'js') });
  const server = await startNatsServer({ config: auth.configs[0] });
  const conns: NatsConnection[] = [];
  return {
    server,
    url: server.url,
    dir,
    auth,
    creds: (user) => auth.creds(user),
    async connectAs(user, options = {}) {
      const s = await natsClientSettings({ nats: server.url, creds: auth.creds(user) }, {});
      const nc = await connect({
        servers: s.servers,
        ...s.options,
        name: `test-${user}`,
        ...(options.reconnect ? {} : { reconnect: false }),
      });
      conns.push(nc);
      return nc;
    },
    async stop() {
      await Promise.all(conns.map((nc) => nc.close().catch(() => undefined)));
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
