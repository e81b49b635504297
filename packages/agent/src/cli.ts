import { connect } from '@nats-io/transport-node';
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { startAgent, natsSimPeers } from './agent.ts';
import { createDriver } from './drivers/factory.ts';
import { natsClientSettings, NatsAuthError, type NatsAuthFlags, type NatsClientSettings } from '@entropy/nats-client';
import { addNatsOptions } from '@entropy/nats-client';
import {
  AgentOptionError,
  DEFAULT_CAPACITY,
  parseAgentOptions,
  type RawAgentOptions,
  SIM_FAIL_ENV,
} from './options.ts';
import { type AgentState, openAgentState } from './state/agent-state.ts';
import { StateDirError } from './state/state-dir.ts';

const program = new Command('entropy-agent')
  .description("Entropy's node agent: executes the node's actions and publishes its status over NATS")
  .requiredOption('--node <id>', 'this node id');
addNatsOptions(program)
  .requiredOption('--driver <name>', 'hypervisor driver: xl, virsh, shell or sim')
  .option('--prefix <prefix>', 'subject prefix', 'entropy')
  .option('--capacity <list>', 'capacity per dimension', DEFAULT_CAPACITY)
  .option('--status-interval <ms>', 'status publication period (default 2000)')
  .option(
    '--status-after-action <ms>',
    'delay of the status published after actions end, one for all that end meanwhile (default 100)',
  )
  .option('--speed <factor>', 'sim: run actions this many times faster than estimated (default 1)')
  .option('--shell-config <file>', 'shell: JSON file with a command template per action')
  .option('--virsh-uri <uri>', 'virsh: connection URI (virsh -c)')
  .option(
    '--virsh-sessions <n>',
    'virsh: warm virsh sessions running the commands (default 4); 0: one virsh process per command',
  )
  .option('--image-dir <dir>', 'xl, virsh, shell: directory of saved images (shared for remote resumes)')
  .option(
    '--shared-images',
    'xl, virsh: --image-dir is shared by every node: this node keeps its images in <dir>/<node>/ and a remote resume reads <dir>/<from>/',
  )
  .option('--config-dir <dir>', 'xl: <dir>/<vm>.cfg; virsh: <dir>/<vm>.xml for virsh create')
  .option('--hosts <list>', 'migration addresses: n1=10.0.0.1,n2=10.0.0.2 (default: node ids)')
  .option('--sim-fail <ids>', `sim: action ids or VM ids to fail (also $${SIM_FAIL_ENV})`)
  .option('--sim-vms <file>', 'sim: JSON list of the VMs the node holds at its first start (an empty state directory)')
  .option('--sim-faults <file>', 'sim: JSON fault rules, re-read when the file changes')
  .option(
    '--sim-usage <file>',
    'sim: JSON measured use to report per VM ({"v1": {"cpu": 1.5}}), re-read when the file changes; a VM it does not name reports its demand',
  )
  .option(
    '--shutdown-command <cmd>',
    'what powers the node off when the controller shuts it down, run without a shell ({node}: this node); the sim driver simulates it without one (the agent stops)',
  )
  .addOption(
    new Option(
      '--state-dir <dir>',
      'what the agent keeps across restarts: action ledger, VM metadata, fencing token, sim VMs (default /var/lib/entropy/agent/<node>)',
    ).env('ENTROPY_STATE_DIR'),
  )
  .option('--log-level <level>', 'pino log level', 'info')
  .option('--user <name>', 'NATS user; default $ENTROPY_NATS_USER, else the credentials file')
  .option(
    '--password <password>',
    'NATS password (prefer $ENTROPY_NATS_PASSWORD or --creds: the command line is visible in ps)',
  )
  .showHelpAfterError();

program.parse();
const raw = program.opts<RawAgentOptions>();
const auth = program.opts<NatsAuthFlags>();

/** A bad option or an unusable state directory ends the agent with its message, not a stack. */
function refuse(err: unknown): never {
  if (err instanceof AgentOptionError || err instanceof NatsAuthError)
    process.stderr.write(`entropy-agent: ${err.message}\n`);
  else if (err instanceof StateDirError) process.stderr.write(`entropy-agent: --state-dir: ${err.message}\n`);
  else throw err;
  process.exit(1);
}

const settings = await parseAgentOptions(raw).catch(refuse);
const nats: NatsClientSettings = await natsClientSettings(auth).catch(refuse);
// Another node's credentials: the server would refuse every subscription of this agent.
if (nats.user?.startsWith('agent-') && nats.user !== `agent-${settings.driver.node}`) {
  refuse(
    new NatsAuthError(
      '--creds',
      `the credentials are ${nats.user}'s, not those of node ${settings.driver.node} (agent-${settings.driver.node})`,
    ),
  );
}

const logger = pino({ level: settings.logLevel, base: { node: settings.driver.node } }, pino.destination(2));
let state: AgentState;
try {
  // Before the driver: the sim driver keeps its VMs in the same directory, which must be this agent's alone.
  state = openAgentState(settings.stateDir, {
    node: settings.driver.node,
    warn: (message) => logger.warn({ stateDir: settings.stateDir }, message),
  });
} catch (err) {
  refuse(err);
}
const nc = await connect({
  servers: nats.servers,
  name: `entropy-agent-${settings.driver.node}`,
  maxReconnectAttempts: -1,
  reconnectTimeWait: 1000,
  ...nats.options,
}).catch((err: Error) => {
  logger.error({ err: err.message, nats: nats.servers.join(','), user: nats.user }, 'cannot connect to NATS');
  process.exit(1);
});

let driver;
try {
  driver = createDriver(settings.driver, natsSimPeers(nc, settings.prefix));
} catch (err) {
  state.close();
  refuse(err);
}
const agent = await startAgent(nc, {
  node: settings.driver.node,
  prefix: settings.prefix,
  capacity: settings.driver.capacity,
  driver,
  state,
  statusIntervalMs: settings.statusIntervalMs,
  statusAfterActionMs: settings.statusAfterActionMs,
  ...(settings.shutdownCommand ? { shutdownCommand: settings.shutdownCommand } : {}),
  logger,
});

// The controller powered the node off: the agent replied and stopped; the process ends as the node would.
void agent.poweredOff.then(() => process.exit(0));

let signals = 0;
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (++signals > 1) process.exit(1);
    logger.info({ signal: sig }, 'stopping');
    agent.stop().then(
      () => process.exit(0),
      (err: Error) => {
        logger.error({ err: err.message }, 'unclean stop');
        process.exit(1);
      },
    );
  });
}
void nc.closed().then((err) => {
  if (!signals && !agent.stopping()) {
    logger.error({ err: err?.message }, 'NATS connection closed');
    process.exit(1);
  }
});
