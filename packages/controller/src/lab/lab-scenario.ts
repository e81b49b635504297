/** One `entropy apply` of the lab's scenario. */
export interface ScenarioStep {
  readonly name: string;
  /** What `entropy apply` takes: the instance file's path, or an inline decision. */
  readonly target: string;
  readonly what: string;
}

/** The node capacity the scenario's demands are sized for: what `lab up` gives each agent by default. */
export const SCENARIO_CAPACITY = { cpu: 4, mem: 1024 } as const;
const NODES = ['n1', 'n2', 'n3'] as const;

/** vjob and declared demand of each of the nine guests; j3's and j4's sizes force a migration in the switch. */
const VMS = [
  { id: 'v1', vjob: 'j1', cpu: 1 },
  { id: 'v2', vjob: 'j1', cpu: 1 },
  { id: 'v3', vjob: 'j1', cpu: 1 },
  { id: 'v4', vjob: 'j2', cpu: 1 },
  { id: 'v5', vjob: 'j2', cpu: 1 },
  { id: 'v6', vjob: 'j2', cpu: 1 },
  { id: 'v7', vjob: 'j3', cpu: 3 },
  { id: 'v8', vjob: 'j3', cpu: 3 },
  { id: 'v9', vjob: 'j4', cpu: 2 },
] as const;

/**
 * A reference-like context switch for a lab of 3 hosts and 9 guests (cpu=4 per host): 4 applies.
 * 1. the instance registers every VM and starts j1 (v1-v3), j2 (v4-v6) and j4 (v9): the planner
 *    puts v9, v1, v2 on n1 and v3 and j2 on n2 (largest first, best fit);
 * 2. j2 sleeps: its VMs are paused together, then saved (images held by n2);
 * 3. the switch: j1 sleeps (paused together on n1 and n2, then saved), j2 resumes (v5, v6 on n2, v4
 *    remotely on n3; restored paused, unpaused together), j3 runs (v7 on n3, v8 on n1 once v9 has
 *    migrated live from n1 to n2, out of its way);
 * 4. j3 is stopped and j1 resumes (v3 remotely from n2), unpaused together.
 * Every guest's tick counter must go on through all of it.
 */
export function labScenario(
  instanceFile: string,
  memMiB: number,
): { instance: Record<string, unknown>; steps: ScenarioStep[] } {
  const instance = {
    nodes: NODES.map((id) => ({ id, ...SCENARIO_CAPACITY })),
    vms: VMS.map((v) => ({ id: v.id, vjob: v.vjob, cpu: v.cpu, mem: memMiB, state: 'waiting' })),
    vjobs: ['j1', 'j2', 'j3', 'j4'].map((id, i) => ({ id, priority: 0, submittedAt: i })),
    decision: { j1: 'running', j2: 'running', j4: 'running' },
  };
  const steps: ScenarioStep[] = [
    { name: 'start', target: instanceFile, what: 'registers the 9 VMs; boots j1, j2 and j4 (7 guests)' },
    { name: 'sleep-j2', target: 'j2=sleeping', what: "pauses j2's VMs together, then saves them" },
    {
      name: 'switch',
      target: 'j1=sleeping,j2=running,j3=running',
      what: 'suspends j1, resumes j2 (one remotely), migrates v9 out of the way, runs j3',
    },
    { name: 'end-j3', target: 'j3=terminated,j1=running', what: 'stops j3, resumes j1 (one remotely)' },
  ];
  return { instance, steps };
}

/** Where the scenario's steps leave its vjobs. */
export const SCENARIO_END = { j1: 'running', j2: 'running', j3: 'terminated', j4: 'running' } as const;

/** The scenario needs its three nodes, nine guests and the capacity its demands are sized for. */
export const scenarioFits = (
  nodes: readonly string[],
  guests: readonly string[],
  capacity: Readonly<Record<string, number>>,
) =>
  nodes.length === NODES.length &&
  NODES.every((n, i) => nodes[i] === n) &&
  VMS.every((v) => guests.includes(v.id)) &&
  capacity.cpu === SCENARIO_CAPACITY.cpu &&
  capacity.mem === SCENARIO_CAPACITY.mem;
