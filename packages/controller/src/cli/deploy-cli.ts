import { type Command, InvalidArgumentError } from 'commander';
import type { CommandResult } from '../command-io/io.ts';
import { INSTALL_HELP } from './help-texts.ts';
import type { InstallCommandOptions } from '../deploy/install-command.ts';

type Run = (handler: () => CommandResult | Promise<CommandResult>) => Promise<void>;

function clusterSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 15)
    throw new InvalidArgumentError('must be a whole number of servers from 1 to 15');
  return n;
}

function idList(value: string): string[] {
  const ids = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (ids.length === 0) throw new InvalidArgumentError('expected a comma-separated list of node ids');
  return ids;
}

/** `entropy deploy ...`: what an operator runs to set a cluster up. */
export function registerDeployCommands(program: Command, run: Run): void {
  const deploy = program
    .command('deploy')
    .description('set up a cluster: nats-server config and credentials, agents on the nodes over SSH');

  deploy
    .command('nats-config')
    .description(
      'write a nats-server config (JetStream; users controller, operator, observer and one per agent, each limited to its role) and a credentials file per user',
    )
    .requiredOption('--nodes <ids>', 'node ids: n1,n2,...', idList)
    .option('--prefix <prefix>', 'subject prefix', 'entropy')
    .option('--out <file>', 'config file to write (default nats-server.conf)')
    .option('--creds-dir <dir>', 'where the credentials files go (default: creds/ beside --out)')
    .option('--listen <host:port>', 'client listen address (default 0.0.0.0:4222)')
    .option('--store-dir <dir>', 'JetStream store directory (default /var/lib/entropy/nats)')
    .option('--rotate', 'new passwords for every user, even those whose credentials file exists')
    .option(
      '--nkeys',
      'nkey users (the config holds public keys, each credentials file its seed) instead of bcrypt-hashed passwords',
    )
    .option('--sim-link', 'let sim agents hand VMs to each other (PREFIX.node.*.sim): for a cluster of sim agents only')
    .option(
      '--cluster <n>',
      'write the configs of a NATS cluster of N servers (routes, JetStream; run the controller with --replicas)',
      clusterSize,
    )
    .option(
      '--cluster-hosts <list>',
      'the servers, host[:client-port[:route-port]],... (default nats-1,nats-2,... on 4222 and 6222)',
      (v: string) =>
        v
          .split(',')
          .map((h) => h.trim())
          .filter(Boolean),
    )
    .action(
      (opts: {
        nodes: string[];
        prefix: string;
        out?: string;
        credsDir?: string;
        listen?: string;
        storeDir?: string;
        rotate?: boolean;
        nkeys?: boolean;
        simLink?: boolean;
        cluster?: number;
        clusterHosts?: string[];
      }) =>
        run(async () => {
          const { DEFAULT_CONFIG_FILE, natsConfigCommand } = await import('../deploy/nats-config-command.ts');
          const { DEFAULT_LISTEN, DEFAULT_STORE_DIR } = await import('../deploy/nats-config.ts');
          return natsConfigCommand({
            ...opts,
            out: opts.out ?? DEFAULT_CONFIG_FILE,
            listen: opts.listen ?? DEFAULT_LISTEN,
            storeDir: opts.storeDir ?? DEFAULT_STORE_DIR,
          });
        }),
    );

  deploy
    .command('install')
    .description('install and start entropy-agent on nodes over SSH; a table of per-host results')
    .requiredOption('--hosts <list>', 'NODE=[USER@]HOST[:PORT],... (user root, port 22 by default)')
    .requiredOption('--nats <url>', 'NATS URL the agents connect to')
    .requiredOption('--driver <driver>', 'hypervisor driver: xl or virsh (sim to try the deployment out)')
    .option('--identity <key>', 'SSH private key (default: $SSH_AUTH_SOCK, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa)')
    .option(
      '--creds-dir <dir>',
      'credentials files of entropy deploy nats-config (agent-NODE.env); omit for a server without users',
    )
    .option('--capacity <list>', "the nodes' capacity, cpu=16,mem=65536 (default: each host's nproc and MemTotal)")
    .option('--agent-args <args>', 'extra entropy-agent options, e.g. "--image-dir /shared/images"')
    .option('--root <dir>', 'stage everything under DIR on the hosts (like DESTDIR) and start nothing')
    .option('--bundle <file.tgz>', 'copy this agent bundle instead of building one with pnpm deploy')
    .option('--known-hosts <file>', "OpenSSH known_hosts file that holds the hosts' keys (default ~/.ssh/known_hosts)")
    .option(
      '--accept-new',
      'trust the key of a host the file does not name yet, and add it there (a changed key is always refused)',
    )
    .option('--dry-run', 'log in and check each host, copy and start nothing')
    .addHelpText('after', INSTALL_HELP)
    .action((opts: InstallCommandOptions) =>
      run(async () => (await import('../deploy/install-command.ts')).installCommand(opts)),
    );
}
