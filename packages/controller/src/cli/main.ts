import { Command, InvalidArgumentError } from 'commander';
import { EntropyError } from '../errors.ts';
import type { CommandResult } from './io.ts';
import { planCommand } from './plan-command.ts';
import { VERIFY_HELP, verifyCommand } from './verify-command.ts';

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer');
  return n;
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
        if (err instanceof EntropyError) {
          process.stderr.write(`error: ${err.message}\n`);
          process.exitCode = 1;
        } else throw err;
      },
    );
}

const program = new Command('entropy')
  .description('Entropy: a cluster-wide context switch for virtualized jobs')
  .showHelpAfterError();

program
  .command('plan')
  .description('compute the plan of a context switch for an instance file')
  .argument('<file>', 'instance file (JSON, optionally gzip-compressed)')
  .option('--json', 'print the plan as JSON')
  .option('--time-limit <ms>', 'time budget for the improvement phases', positiveInt)
  .action((file: string, opts: { json?: boolean; timeLimit?: number }) => run(() => planCommand(file, opts)));

program
  .command('verify')
  .description('replay a plan against its instance and report the first violation')
  .argument('<instance>', 'instance file (JSON, optionally gzip-compressed)')
  .argument('<plan>', 'plan file (the output of entropy plan --json)')
  .addHelpText('after', VERIFY_HELP)
  .action((instance: string, plan: string) => run(() => verifyCommand(instance, plan)));

await program.parseAsync(process.argv);
