import { type Command, InvalidArgumentError } from 'commander';
import {
  DEFAULT_GUEST_MEM_MIB,
  DEFAULT_LAB_CAPACITY,
  DEFAULT_LAB_DIR,
  DEFAULT_LAB_GUESTS,
  DEFAULT_LAB_HOSTS,
} from '../lab/lab-defaults.ts';
import type { CommandResult } from '../command-io/io.ts';

type Run = (handler: () => CommandResult | Promise<CommandResult>) => Promise<void>;

function count(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer of at least ${min}`);
    return n;
  };
}

function capacityList(value: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of value.split(',')) {
    const [k, v] = part.split('=');
    if (!k || v === undefined || !Number.isFinite(Number(v)) || Number(v) < 0)
      throw new InvalidArgumentError(`expected name=number,..., got ${JSON.stringify(part)}`);
    out[k.trim()] = Number(v);
  }
  return out;
}

/** `entropy lab up|status|down|host-start|host-stop`: a real cluster of namespace hosts, libvirtd and QEMU guests on this machine. */
export function registerLabCommands(program: Command, run: Run): void {
  const lab = program
    .command('lab')
    .description(
      'a real cluster on this machine: namespace hosts, libvirtd, QEMU guests, virsh agents, nats-server, controller (root)',
    );
  const dirOption = [
    '--dir <dir>',
    'the lab directory: its state file, logs, images, consoles',
    DEFAULT_LAB_DIR,
  ] as const;

  lab
    .command('up')
    .description(
      'create the hosts, start libvirtd and an agent on each, nats-server and the controller; print how to use them',
    )
    .option('--hosts <n>', 'namespace hosts', count(1), DEFAULT_LAB_HOSTS)
    .option('--guests <n>', 'guests defined (v1..vN), none started', count(0), DEFAULT_LAB_GUESTS)
    .option('--mem <MiB>', "each guest's memory (96 at least: less does not boot)", count(96), DEFAULT_GUEST_MEM_MIB)
    .option('--capacity <list>', "each host's capacity for the planner", capacityList, { ...DEFAULT_LAB_CAPACITY })
    .option(...dirOption)
    .option('--guest-cache <dir>', 'where the guest image is built once and cached (default .cache/libvirt-guest)')
    .action(
      (opts: {
        hosts: number;
        guests: number;
        mem: number;
        capacity: Record<string, number>;
        dir: string;
        guestCache?: string;
      }) =>
        run(async () =>
          (await import('./lab-command.ts')).labUpCommand({
            hosts: opts.hosts,
            guests: opts.guests,
            memMiB: opts.mem,
            capacity: opts.capacity,
            dir: opts.dir,
            ...(opts.guestCache ? { guestCache: opts.guestCache } : {}),
          }),
        ),
    );

  lab
    .command('status')
    .description("the lab's hosts, processes alive, guests per host, the controller's view")
    .option(...dirOption)
    .option('--json', 'print the status as JSON')
    .action((opts: { dir: string; json?: boolean }) =>
      run(async () => (await import('./lab-command.ts')).labStatusCommand(opts)),
    );

  lab
    .command('host-stop')
    .argument('<node>', 'the host (n1, n2, ...)')
    .description(
      "power a host off, the lab's way: stop its agent and its libvirtd (a power cut for guests still there); each agent's --shutdown-command",
    )
    .option(...dirOption)
    .option(
      '--by-agent',
      "run by the host's own agent (its --shutdown-command): the agent is left to exit by itself after its reply",
    )
    .action((node: string, opts: { dir: string; byAgent?: boolean }) =>
      run(async () => (await import('./lab-command.ts')).labHostStopCommand(node, opts)),
    );

  lab
    .command('host-start')
    .argument('<node>', 'the host (n1, n2, ...)')
    .description(
      "boot a host again: start its libvirtd, then its agent as lab up did; the lab controller's --boot-command",
    )
    .option(...dirOption)
    .action((node: string, opts: { dir: string }) =>
      run(async () => (await import('./lab-command.ts')).labHostStartCommand(node, opts)),
    );

  lab
    .command('down')
    .description('remove everything the lab recorded (also after a crash): processes, guests, namespaces, files')
    .option(...dirOption)
    .action((opts: { dir: string }) => run(async () => (await import('./lab-command.ts')).labDownCommand(opts)));
}
