import { type Command, InvalidArgumentError } from 'commander';
import type { CommandResult } from '../cli/io.ts';
import { DEFAULT_LISTEN, DEFAULT_STORE_DIR } from './nats-config.ts';
import { DEFAULT_CONFIG_FILE, natsConfigCommand } from './nats-config-command.ts';

type Run = (handler: () => CommandResult | Promise<CommandResult>) => Promise<void>;

function idList(value: string): string[] {
  const ids = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (ids.length === 0) throw new InvalidArgumentError('expected a comma-separated list of node ids');
  return ids;
}

/** `entropy deploy ...`: what an operator runs to set a cluster up. */
export function registerDeployCommands(program: Command, run: Run): void {
  const deploy = program.command('deploy').description('set up a cluster: nats-server config and credentials, agents on the nodes over SSH');

  deploy
    .command('nats-config')
    .description('write a nats-server config (JetStream, one user per agent limited to its own subjects, a controller user) and a credentials file per user')
    .requiredOption('--nodes <ids>', 'node ids: n1,n2,...', idList)
    .option('--prefix <prefix>', 'subject prefix', 'entropy')
    .option('--out <file>', 'config file to write', DEFAULT_CONFIG_FILE)
    .option('--creds-dir <dir>', 'where the credentials files go (default: creds/ beside --out)')
    .option('--listen <host:port>', 'client listen address', DEFAULT_LISTEN)
    .option('--store-dir <dir>', 'JetStream store directory', DEFAULT_STORE_DIR)
    .option('--rotate', 'new passwords for every user, even those whose credentials file exists')
    .action((opts: { nodes: string[]; prefix: string; out: string; credsDir?: string; listen: string; storeDir: string; rotate?: boolean }) =>
      run(() => natsConfigCommand(opts)),
    );
}
