import { EXIT_HOST_FAILED } from '../deploy/exit-codes.ts';

export { EXIT_HOST_FAILED };
/**
 * The commands' help texts and the option values the CLI declares, apart from the commands themselves: the CLI
 * declares every command at start and loads a command's code only when it runs, so what a declaration needs
 * must not pull that code in.
 */
import type { InstanceFormat } from '@entropy/engine';
import { DEFAULT_TURN_BUDGETS } from '../reconcile/budget-defaults.ts';

export const INPUT_FORMATS = ['entropy', 'btrplace'] as const satisfies readonly InstanceFormat[];
export const OUTPUT_FORMATS = ['entropy', 'btrplace'] as const;

export const VERIFY_HELP = `
Replays the plan against the instance's configuration and decision, and reports the first violation
(malformed, transition, dependency, synchrony, capacity, barrier, final-state, node-power, and, for a
BtrPlace instance, constraint: every constraint of the instance).

The plan is Entropy's plan JSON (entropy plan --json) or BtrPlace's plan JSON (entropy plan
--output-format btrplace), told apart by its content. A BtrPlace plan has no steps and no
dependencies: its steps follow start times, and the ASAP view is not checked.

Exit codes:
  0  the plan is valid
  1  bad input (unreadable file, invalid instance or plan file)
  3  the plan violates a rule, or says the instance is infeasible (nothing to verify)`;

export const GANTT_HELP = `
From a plan file (entropy plan --json): the planned bars. From the journal (--plan ID, with --nats
and --prefix): the actions the controller sent, planned and measured (from each intent to its result).

Exit codes: 0 written, 1 bad input (no plan file or --plan, an infeasible plan, no such plan in the journal)`;

export const NODE_HELP = `
boot: the control loop runs the controller's --boot-command for the node and waits for its agent.
shutdown: the control loop moves the node's VMs and images to other nodes, then asks its agent to
power the node off; the node stays wanted offline (also across controller restarts) until a boot.
drain: no VM runs on the node (a runningCapacity({node}, 0) constraint in every turn): its running VMs
move to other nodes and new ones go elsewhere, also across controller restarts, until an undrain. VMs
that fit nowhere else stay, and the controller's log says why. undrain: VMs may run there again.

Exit codes:
  0  recorded (with --wait: the node reached the state)
  1  no controller, unknown node, or the controller cannot (no --boot-command for a boot)
  4  --wait: the node did not reach the state in time`;

export const APPLY_HELP = `
TARGET is an instance file (its decision is applied; its VMs and vjobs are registered with the
controller), a decision file ({"j1": "sleeping"}), or an inline decision (j1=sleeping,j2=running).
The plan starts from the configuration the controller observes now, not from the instance's.

Review before apply: --out PLAN.json saves the plan (its action ids, the decision, the configuration
it was computed from, an id and the time) and executes nothing (entropy plan-from-cluster is the same).
entropy apply --plan PLAN.json [--skip ACTION_ID ...] executes it only if every VM it acts on has the
saved state, host and demand and every node it uses the saved state and capacity; skipped actions are
left out (nothing else is) and the rest is verified again before it runs.

Exit codes:
  0  the plan completed (or there was nothing to do, or --dry-run, or --out)
  1  bad input, no controller, or the controller refused the decision
  2  no plan reaches the decision
  3  --skip: the plan without the skipped actions fails verification (the verifier's reason)
  4  the plan failed or was stopped (the summary says which action, and what was undone)
  5  --plan: the cluster no longer matches the saved plan (the first difference)`;

export const SUBMIT_HELP = `
FILE is a vjob file (JSON):
  { "id": "j1", "priority": 0,
    "vms": [{ "id": "j1-vm1", "cpu": 1, "mem": 512 }, { "id": "j1-vm2", "cpu": 1, "mem": 512, "resources": { "gpu": 1 } }] }
An optional "constraints" array holds placement constraints over its own VMs (a VM id, or "vjob": ID for
all of them), e.g. [{ "type": "spread", "vjob": "j1" }, { "type": "ban", "vjob": "j1", "nodes": ["n1"] }].
It is checked here, then by the controller, which queues it; the control loop's policy decides when it runs.

Exit codes: 0 queued, 1 invalid file, no controller, or refused (an id already in use)`;

export const CALIBRATE_HELP = `
Samples are measured actions: from results files (JSON lines, one completed action each, as
entropy apply --results writes them: {"kind":"migrate","mem":1024,"durationMs":1180,"node":"n1",...})
and from the plan journal (--journal: every action that succeeded with its memory and duration).
Per kind, duration = base + perMiB x mem is fitted (Theil-Sen, outliers beyond 3 MADs dropped, then
least squares, never negative); a node that differs by more than 20% with at least 8 samples gets
its own line. The output file has the shape of an instance file's costModel; use it with
entropy plan|apply|controller --cost-model FILE.

Exit codes: 0 written, 1 bad input or no samples`;

export const INSTALL_HELP = `
Exit codes: 0 every host succeeded, 1 bad input, ${EXIT_HOST_FAILED} at least one host failed (the others are still done).
Each host: checks Node 20+ over SSH, copies the agent (two compiled JavaScript files: no registry, no node_modules on the nodes),
writes /etc/entropy/agent.env (mode 0600, with the node's NATS credentials from --creds-dir) and
/etc/systemd/system/entropy-agent@.service, then runs systemctl enable --now entropy-agent@NODE when systemd
runs there, or prints the command that starts the agent.
Host keys are checked against --known-hosts (OpenSSH format: plain and hashed names, [host]:port, ed25519, ecdsa,
rsa) before anything is sent: a host the file does not name is refused with its key's fingerprint, unless
--accept-new adds it; a host whose key differs from the file's is always refused.`;

export const APPROVE_HELP = `
With entropy controller --approve, the control loop proposes its plans rather than executing them
(entropy plans lists the one waiting, with its action ids). The proposal is checked against the
cluster again, as entropy apply --plan does, then executed and followed like an apply.

Exit codes: as entropy apply (0 done, 1 no such proposal or no controller, 4 failed, 5 the cluster changed:
the proposal is dropped and the next turn proposes a new one)`;
export const EXPLAIN_HELP = `
Says why vjob VJOB is in its state, as of the control loop's last turn: its state, queue position and
effective priority, what the policy decided and why (the resource and amount it is short of, the vjobs
ahead of it), what held it back (an agent acting on it, a failure's backoff, a constraint, a budget, a
plan waiting for approval), a start put off for lack of room, and the minimal set of constraints and
starts that leaves no plan when the turn found one. --json prints the controller's reply.

Exit codes: 0 explained, 1 no controller answers or it refused, 3 no vjob VJOB in the queue`;
/** The control loop's anti-thrash budgets (controller options): flag, description with its default. */
export const BUDGET_OPTIONS = {
  minGain: `a plan that only moves VMs (overload repair) runs only when it relieves at least this much overload, summed over nodes as a fraction of each node's capacity (0: any; default ${DEFAULT_TURN_BUDGETS.minGain})`,
  moveHold: `a VM a plan migrated stays put this long, unless a state change or an overload repair has no plan without moving it (0: no hold; default ${DEFAULT_TURN_BUDGETS.moveHoldMs})`,
  maxMigrations: `migrations per turn: a plan with more is cut to the most useful ones, the rest waits for the next turn; a cut never puts off a start (default ${DEFAULT_TURN_BUDGETS.maxMigrations})`,
  maxMigratedMem: `memory migrated per turn, MiB, cut likewise (default ${DEFAULT_TURN_BUDGETS.maxMigratedMiB})`,
  noBudgets: 'no anti-thrash budget: every plan of the loop runs whole (the flags above still set theirs)',
} as const;
