import { Command, InvalidArgumentError, Option } from 'commander';
import { EntropyError } from '@entropy/protocol';
import { PolicyError } from '@entropy/engine';
import type { CommandResult } from '../command-io/io.ts';
import type { ApplyCommandOptions } from './apply-command.ts';
import type { CalibrateCommandOptions } from './calibrate-command.ts';
import type { GanttCommandOptions } from './gantt-command.ts';
import type { NodeVerb } from './node-command.ts';
import type { PlanCommandOptions } from './plan-command.ts';
import {
  APPLY_HELP,
  APPROVE_HELP,
  CALIBRATE_HELP,
  GANTT_HELP,
  INPUT_FORMATS,
  NODE_HELP,
  OUTPUT_FORMATS,
  SUBMIT_HELP,
  VERIFY_HELP,
  BUDGET_OPTIONS,
} from './help-texts.ts';
import { EXPLAIN_HELP } from './help-texts.ts';
import { DEFAULT_MAX_INPUT_BYTES, parseByteSize, setMaxInputBytes } from '../command-io/input-file.ts';
import { registerDeployCommands } from './deploy-cli.ts';
import { registerLabCommands } from './lab-cli.ts';
import { addNatsOptions } from '@entropy/nats-client';

// Every command is declared here, and its code is imported only when it runs: `entropy plan` does not load the
// NATS client, `entropy status` does not load the engine, and no command loads ssh2 but deploy install.

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a non-negative number');
  return n;
}

function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
}

/** An error a user can reach: ours, or a protocol or template error with a stable ENTROPY_ code. */
function isUserError(err: unknown): err is Error {
  if (err instanceof EntropyError || err instanceof PolicyError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('ENTROPY_');
}

/** A message may quote what a user gave (a binary file's bytes, say): no control characters reach the terminal. */
function printable(text: string): string {
  return text.replace(
    /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** Prints a handler's result and sets the exit code; user-reachable errors print one line, no stack. */
function run(handler: () => CommandResult | Promise<CommandResult>): Promise<void> {
  return Promise.resolve()
    .then(handler)
    .then(
      (r) => {
        if (r.output) process.stdout.write(r.output.endsWith('\n') ? r.output : `${r.output}\n`);
        process.exitCode = r.exitCode;
      },
      (err: unknown) => {
        if (isUserError(err)) {
          process.stderr.write(`error: ${printable(err.message)}\n`);
          process.exitCode = 1;
        } else if (process.env.ENTROPY_DEBUG) throw err;
        else {
          // Not one of ours (a NATS timeout, a bug): still one line; ENTROPY_DEBUG=1 shows the stack.
          const e = err instanceof Error ? err : new Error(String(err));
          process.stderr.write(
            `error: ${printable(`${e.name}: ${e.message}`)} (unexpected; ENTROPY_DEBUG=1 shows where)\n`,
          );
          process.exitCode = 1;
        }
      },
    );
}

function byteSize(value: string): number {
  const n = parseByteSize(value);
  if (n === undefined) throw new InvalidArgumentError('must be a byte count such as 268435456, 512MiB or 1GiB');
  return n;
}

// `entropy plan ... | head` closes the pipe early: that is the reader's choice, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const program = new Command('entropy')
  .description('Entropy: a cluster-wide context switch for virtualized jobs')
  .option(
    '--max-input-size <bytes>',
    `the largest file any command reads, gunzipped (default ${DEFAULT_MAX_INPUT_BYTES / 1024 / 1024}MiB)`,
    byteSize,
  )
  .hook('preAction', (cmd) => {
    const max = cmd.opts<{ maxInputSize?: number }>().maxInputSize;
    if (max !== undefined) setMaxInputBytes(max);
  })
  .showHelpAfterError();

program
  .command('plan')
  .description('compute the plan of a context switch for an instance file')
  .argument('<file>', 'instance file (JSON, optionally gzip-compressed)')
  .option('--json', 'print the plan as JSON')
  .option(
    '--time-limit <ms>',
    'wall-clock bound of the whole solve (default 2 s + 25 ms per 1,000 VMs); the search then keeps the best plan so far',
    positiveInt,
  )
  .option(
    '--work-budget <nodes>',
    'search nodes the placement improvement may explore (default 300,000): the same plan on any machine',
    nonNegativeInt,
  )
  .addOption(
    new Option('--format <format>', "the instance file's format: Entropy's own, or BtrPlace's instance JSON")
      .choices(INPUT_FORMATS)
      .default('entropy'),
  )
  .addOption(
    new Option('--output-format <format>', "the plan's format: Entropy's, or BtrPlace's plan JSON")
      .choices(OUTPUT_FORMATS)
      .default('entropy'),
  )
  .option(
    '--cost-model <file>',
    "a cost-model file (entropy calibrate's output) to plan with; the instance's own costModel applies over it",
  )
  .action((file: string, opts: PlanCommandOptions) =>
    run(async () => (await import('./plan-command.ts')).planCommand(file, opts)),
  );

program
  .command('verify')
  .description('replay a plan against its instance and report the first violation')
  .argument('<instance>', 'instance file (JSON, optionally gzip-compressed)')
  .argument('<plan>', 'plan file: the output of entropy plan --json, or of entropy plan --output-format btrplace')
  .addOption(
    new Option('--format <format>', "the instance file's format: Entropy's own, or BtrPlace's instance JSON")
      .choices(INPUT_FORMATS)
      .default('entropy'),
  )
  .addHelpText('after', VERIFY_HELP)
  // A bad option is one line on stderr, like every other error of verify; --help shows the usage.
  .showHelpAfterError(false)
  .action((instance: string, plan: string, opts: { format: (typeof INPUT_FORMATS)[number] }) =>
    run(async () => (await import('./verify-command.ts')).verifyCommand(instance, plan, opts)),
  );

addNatsOptions(program.command('controller'))
  .description(
    'run the controller: monitor the agents, keep the vjob queue, run the control loop, serve apply requests',
  )
  .option('--prefix <prefix>', 'subject prefix', 'entropy')
  .option('--status-period <ms>', "the agents' status period; a node silent for three periods is offline", positiveInt)
  .option('--mode <mode>', 'execution mode: barrier (step after step) or asap', executionMode)
  .option('--log-level <level>', 'pino log level (JSON lines on stderr)', 'info')
  .option('--policy <name-or-path>', 'control loop policy: fcfs, fifo-ffd, consolidate, or a module path', 'fifo-ffd')
  .option('--loop-interval <ms>', 'run a control loop turn at least this often (it also runs on events)', positiveInt)
  .option(
    '--queue-store <kind>',
    'where the vjob queue is kept: auto (JetStream KV, else memory with a warning), kv, memory',
    queueStoreKind,
    'auto',
  )
  .option('--queue-bucket <name>', 'JetStream KV bucket of the queue (default: PREFIX_queue)')
  .option(
    '--keep-ended <ms>',
    'an ended vjob stays in the queue (entropy queue lists it, its id stays taken) this long (default: one day)',
    positiveInt,
  )
  .option(
    '--lease <ms>',
    'leader lease period with a JetStream store: a standby controller takes over within two (default 3000)',
    positiveInt,
  )
  .option(
    '--max-attempts <n>',
    "failures of a vjob's transition before it is given up and the vjob left where it came from (default 3)",
    positiveInt,
  )
  .option(
    '--retry-backoff <ms>',
    'backoff before the first retry of a failed transition, doubled per failure up to 30 s (default 1000)',
    positiveInt,
  )
  .option(
    '--cost-model <file>',
    "a cost-model file (entropy calibrate's output): every plan is made with it instead of the defaults",
  )
  .option(
    '--constraints <file>',
    'a cluster constraints file ({"constraints": [...]}, as in an instance file): every plan keeps them; reloaded on SIGHUP and when the file changes',
  )
  .option(
    '--boot-command <cmd>',
    "how a node is booted (entropy node boot): a command run without a shell, the node's id in {node} (e.g. 'ipmitool -H {node}-bmc chassis power on'); without it, boots are refused",
  )
  .option(
    '--boot-timeout <ms>',
    "a boot fails when the node's agent has not said hello and reported within this long (default 300000)",
    positiveInt,
  )
  .option(
    '--group-lead <ms>',
    "a vjob's pauses (and unpauses) get one start deadline this far ahead, so that its agents start them together (default 0: each at once)",
    positiveInt,
  )
  .option(
    '--replicas <n>',
    'servers of a NATS cluster that keep the queue, the leader lease and the plan journal (default 1; 3 for entropy deploy nats-config --cluster 3)',
    positiveInt,
  )
  .option('--approve', 'propose plans (entropy plans) and execute one only once entropy approve ID says so')
  .option('--min-gain <fraction>', BUDGET_OPTIONS.minGain, nonNegativeNumber)
  .option('--move-hold <ms>', BUDGET_OPTIONS.moveHold, nonNegativeInt)
  .option('--max-migrations <n>', BUDGET_OPTIONS.maxMigrations, positiveInt)
  .option('--max-migrated-mem <MiB>', BUDGET_OPTIONS.maxMigratedMem, positiveInt)
  .option('--no-budgets', BUDGET_OPTIONS.noBudgets)
  .action(
    (opts: {
      nats?: string;
      prefix: string;
      statusPeriod?: number;
      mode?: 'barrier' | 'asap';
      logLevel: string;
      policy: string;
      loopInterval?: number;
      queueStore: 'auto' | 'kv' | 'memory';
      queueBucket?: string;
      keepEnded?: number;
      lease?: number;
      maxAttempts?: number;
      retryBackoff?: number;
      costModel?: string;
      constraints?: string;
      bootCommand?: string;
      bootTimeout?: number;
      groupLead?: number;
      replicas?: number;
      approve?: boolean;
      minGain?: number;
      moveHold?: number;
      maxMigrations?: number;
      maxMigratedMem?: number;
      budgets: boolean;
    }) => run(async () => (await import('./controller-command.ts')).controllerCommand(opts)),
  );

addNatsOptions(program.command('submit'))
  .description('queue a vjob from a vjob file; the control loop runs it when its policy says so')
  .argument('<file>', 'vjob file (JSON)')
  .option('--prefix <prefix>', 'subject prefix', 'entropy')
  .option('--timeout <ms>', 'fail when the controller has not answered within this long (default 5000)', positiveInt)
  .addHelpText('after', SUBMIT_HELP)
  .action((file: string, opts: { nats?: string; prefix: string; timeout?: number }) =>
    run(async () => (await import('./submit-command.ts')).submitCommand(file, opts)),
  );

addNatsOptions(program.command('queue'))
  .description('list the vjob queue: state, priority, effective priority, submission time, VMs')
  .option('--prefix <prefix>', 'subject prefix', 'entropy')
  .option('--json', 'print the queue as JSON')
  .option('--timeout <ms>', 'fail when the controller has not answered within this long (default 5000)', positiveInt)
  .action((opts: { nats?: string; prefix: string; json?: boolean; timeout?: number }) =>
    run(async () => (await import('./queue-command.ts')).queueCommand(opts)),
  );

addNatsOptions(program.command('cancel'))
  .description('cancel a vjob: a waiting one ends at once, a running or sleeping one once its VMs are stopped')
  .argument('<id>', 'vjob id')
  .option('--prefix <prefix>', 'subject prefix', 'entropy')
  .option('--timeout <ms>', 'fail when the controller has not answered within this long (default 5000)', positiveInt)
  .action((id: string, opts: { nats?: string; prefix: string; timeout?: number }) =>
    run(async () => (await import('./cancel-command.ts')).cancelCommand(id, opts)),
  );

addNatsOptions(program.command('explain'))
  .description('say why a vjob is in its state: queue position, policy decision and reason, holds, conflicts')
  .argument('<vjob>', 'vjob id')
  .option('--prefix <prefix>', 'subject prefix', 'entropy')
  .option('--json', "print the controller's reply as JSON")
  .option('--timeout <ms>', 'fail when the controller has not answered within this long (default 5000)', positiveInt)
  .addHelpText('after', EXPLAIN_HELP)
  .action((vjob: string, opts: { nats?: string; prefix: string; json?: boolean; timeout?: number }) =>
    run(async () => (await import('./explain-command.ts')).explainCommand(vjob, opts)),
  );

addNatsOptions(program.command('status'))
  .description("show the controller's view of nodes and VMs")
  .option('--prefix <prefix>', 'subject prefix', 'entropy')
  .option('--json', 'print the status as JSON')
  .option('--timeout <ms>', 'fail when the controller has not answered within this long (default 5000)', positiveInt)
  .addOption(
    new Option(
      '--watch',
      'redraw nodes, vjobs and the running plan every interval until Ctrl-C (one snapshot after another when not on a terminal)',
    ).conflicts('json'),
  )
  .option('--interval <ms>', 'time between two snapshots of --watch (default 2000)', positiveInt)
  .action(
    (opts: { nats?: string; prefix: string; json?: boolean; timeout?: number; watch?: boolean; interval?: number }) =>
      run(async () =>
        opts.watch
          ? (await import('./status-watch.ts')).statusWatch(opts)
          : (await import('./status-command.ts')).statusCommand(opts),
      ),
  );

addNatsOptions(program.command('apply'))
  .description('plan a context switch from the observed configuration to a decision, and execute it')
  .argument('[target]', 'instance file, decision file, or inline decision (j1=sleeping,j2=running)')
  .option('--prefix <prefix>', 'subject prefix', 'entropy')
  .option('--mode <mode>', 'execution mode: barrier (step after step) or asap', executionMode)
  .option('--time-limit <ms>', 'wall-clock bound of the solve (default 2 s + 25 ms per 1,000 VMs)', positiveInt)
  .option('--dry-run', 'print the plan, execute nothing')
  .option('--timeout <ms>', 'give up waiting for the end of the plan after this long', positiveInt)
  .option('--cost-model <file>', "a cost-model file to plan with (the target instance's own costModel applies over it)")
  .option('--gantt <file.svg>', 'write a Gantt chart of the plan, planned and measured, once it ends')
  .option('--results <file>', 'write every completed action, measured, as JSON lines (the input of entropy calibrate)')
  .option('--out <plan.json>', 'save the plan with the configuration it was computed from; execute nothing')
  .option('--plan <plan.json>', "execute a saved plan (--out's) if the cluster still matches it")
  .option('--skip <action-id...>', 'with --plan: leave these actions out (the rest is verified again)')
  .addHelpText('after', APPLY_HELP)
  .action((target: string | undefined, opts: ApplyCommandOptions) =>
    run(async () =>
      opts.plan !== undefined || opts.skip !== undefined
        ? (await import('./apply-saved.ts')).applySaved(target, opts)
        : (await import('./apply-command.ts')).applyCommand(target, opts),
    ),
  );

addNatsOptions(program.command('plan-from-cluster'))
  .description('plan from the observed configuration to a decision and save it (entropy apply --dry-run --out)')
  .argument('<target>', 'instance file, decision file, or inline decision (j1=sleeping,j2=running)')
  .requiredOption('--out <plan.json>', 'the saved plan: entropy apply --plan executes it')
  .option('--prefix <prefix>', 'subject prefix', 'entropy')
  .option('--time-limit <ms>', 'wall-clock bound of the solve (default 2 s + 25 ms per 1,000 VMs)', positiveInt)
  .option('--cost-model <file>', "a cost-model file to plan with (the target instance's own costModel applies over it)")
  .action((target: string, opts: ApplyCommandOptions) =>
    run(async () => (await import('./apply-command.ts')).applyCommand(target, { ...opts, dryRun: true })),
  );

addNatsOptions(program.command('plans'))
  .description('list the plan a controller in --approve mode proposes (with its action ids) and the rejected ones')
  .option('--prefix <prefix>', 'subject prefix', 'entropy')
  .option('--json', 'print them as JSON')
  .option('--timeout <ms>', 'fail when the controller has not answered within this long (default 5000)', positiveInt)
  .action((opts: { nats?: string; prefix: string; json?: boolean; timeout?: number }) =>
    run(async () => (await import('./review-commands.ts')).plansCommand(opts)),
  );

addNatsOptions(program.command('approve'))
  .description('execute a plan the controller proposes (--approve mode) if the cluster still matches it')
  .argument('<plan-id>', "the proposal's id (entropy plans)")
  .option('--prefix <prefix>', 'subject prefix', 'entropy')
  .option('--mode <mode>', 'execution mode: barrier (step after step) or asap', executionMode)
  .option('--timeout <ms>', 'give up waiting for the end of the plan after this long', positiveInt)
  .addHelpText('after', APPROVE_HELP)
  .action((id: string, opts: ApplyCommandOptions) =>
    run(async () => (await import('./review-commands.ts')).approveCommand(id, opts)),
  );

addNatsOptions(program.command('reject'))
  .description('drop a proposed plan: not executed, not proposed again until what is wanted or observed changes')
  .argument('<plan-id>', "the proposal's id (entropy plans)")
  .option('--prefix <prefix>', 'subject prefix', 'entropy')
  .option('--timeout <ms>', 'fail when the controller has not answered within this long (default 5000)', positiveInt)
  .action((id: string, opts: { nats?: string; prefix: string; timeout?: number }) =>
    run(async () => (await import('./review-commands.ts')).rejectCommand(id, opts)),
  );

addNatsOptions(program.command('calibrate'), 'NATS server URL (with --journal)')
  .description(
    'fit the cost model to measured action durations (results files, the plan journal) and write it as a cost-model file',
  )
  .option('--results <file...>', 'results files (JSON lines, as entropy apply --results writes them)')
  .option('--journal', 'read the samples from the plan journal (JetStream stream PREFIX_journal)')
  .option('--prefix <prefix>', 'subject prefix (with --journal)', 'entropy')
  .option('--plans <n>', "only the journal's newest N plans", positiveInt)
  .option(
    '--base <file>',
    'the cost-model file to start from: kinds without samples keep its lines (default: the built-in model)',
  )
  .requiredOption('--out <file>', 'where to write the calibrated cost-model file')
  .addHelpText('after', CALIBRATE_HELP)
  .action((opts: CalibrateCommandOptions) =>
    run(async () => (await import('./calibrate-command.ts')).calibrateCommand(opts)),
  );

addNatsOptions(program.command('gantt'), 'NATS server URL (with --plan)')
  .description('write a Gantt chart (SVG) of a plan: from a plan file, or planned and measured from the plan journal')
  .argument('[plan]', 'plan file (entropy plan --json)')
  .option('--plan <id>', "a plan's id in the journal, instead of a plan file")
  .option('--prefix <prefix>', 'subject prefix (with --plan)', 'entropy')
  .requiredOption('--out <file.svg>', 'where to write the chart')
  .addHelpText('after', GANTT_HELP)
  .action((plan: string | undefined, opts: GanttCommandOptions) =>
    run(async () => (await import('./gantt-command.ts')).ganttCommand(plan, opts)),
  );

addNatsOptions(program.command('node'))
  .description('boot a node, move its VMs away and shut it down, or drain it, through the control loop')
  .argument('<verb>', 'boot, shutdown, drain or undrain', nodeVerb)
  .argument('<node>', 'node id')
  .option('--prefix <prefix>', 'subject prefix', 'entropy')
  .option(
    '--wait <ms>',
    'wait until the node is online (boot), powered off (shutdown) or runs no VM (drain), at most this long',
    positiveInt,
  )
  .option('--timeout <ms>', 'fail when the controller has not answered within this long (default 5000)', positiveInt)
  .addHelpText('after', NODE_HELP)
  .action((verb: NodeVerb, node: string, opts: { nats?: string; prefix: string; wait?: number; timeout?: number }) =>
    run(async () => (await import('./node-command.ts')).nodeCommand(verb, node, opts)),
  );

program
  .command('experiment')
  .description('simulate a workload in virtual time with several policies and compare them side by side')
  .argument('<scenario>', 'reference, large, tiny, or a scenario file (JSON)')
  .option('--json', 'print the figures as one JSON object keyed by policy')
  .option('--plot <file.svg>', 'write an SVG plot of CPU and memory use over time')
  .option('--policies <list>', 'comma-separated policies to compare (names or module paths)', 'fcfs,fifo-ffd')
  .option('--time-limit <ms>', "the engine's time budget per turn", positiveInt)
  .action((scenario: string, opts: { json?: boolean; plot?: string; policies: string; timeLimit?: number }) =>
    run(async () =>
      (await import('./experiment-command.ts')).experimentCommand(scenario, {
        ...opts,
        policies: opts.policies.split(',').filter(Boolean),
      }),
    ),
  );

program
  .command('demo')
  .description('start an embedded nats-server, a sim agent per node and a controller, then run a context switch live')
  .argument('[instance]', 'instance file to play (default: the bundled reference cluster, examples/reference.json)')
  .option('--keep', 'keep the cluster up after the context switch, until Ctrl-C')
  .option(
    '--speed <factor>',
    'run simulated actions this many times faster than the cost model says',
    positiveNumber,
    1,
  )
  .option('--mode <mode>', 'execution mode: barrier (step after step) or asap', executionMode)
  .option(
    '--lab',
    'on real QEMU guests (entropy lab: 3 hosts, 9 guests; root, libvirt) instead of sim agents: the scenario scaled to the lab, a few minutes',
  )
  .addHelpText(
    'after',
    "\nExit codes: 0 done and verified, 1 bad input or the cluster did not start, 2 infeasible, 4 the plan failed, 5 final state differs (with --lab: or a guest's console shows a reboot or a lost tick)",
  )
  .action(
    (instance: string | undefined, opts: { keep?: boolean; speed: number; mode?: 'barrier' | 'asap'; lab?: boolean }) =>
      run(async () => (await import('./demo-command.ts')).demoCommand({ ...opts, instance })),
  );

function queueStoreKind(value: string): 'auto' | 'kv' | 'memory' {
  if (value !== 'auto' && value !== 'kv' && value !== 'memory')
    throw new InvalidArgumentError('must be auto, kv or memory');
  return value;
}

function nodeVerb(value: string): NodeVerb {
  if (value !== 'boot' && value !== 'shutdown' && value !== 'drain' && value !== 'undrain')
    throw new InvalidArgumentError('must be boot, shutdown, drain or undrain');
  return value;
}

function executionMode(value: string): 'barrier' | 'asap' {
  if (value !== 'barrier' && value !== 'asap') throw new InvalidArgumentError('must be barrier or asap');
  return value;
}

registerDeployCommands(program, run);
registerLabCommands(program, run);

await program.parseAsync(process.argv);
