import type { VJobState, VMState } from './lifecycle.ts';
import type { Resources } from './resources.ts';

export const NodeState = { Online: 'online', Offline: 'offline' } as const;
export type NodeState = (typeof NodeState)[keyof typeof NodeState];

export interface Node {
  readonly id: string;
  /** Capacity per named dimension (`cpu` in cores or any unit, `mem` in MiB, ...). */
  readonly capacity: Resources;
  readonly state: NodeState;
}

export interface VM {
  readonly id: string;
  readonly vjob: string;
  /** Demand per named dimension, at peak or as measured. */
  readonly demand: Resources;
  readonly state: VMState;
  /** The node it runs on, or the node holding its suspended image; absent for waiting and terminated VMs. */
  readonly host?: string;
}

export interface VJob {
  readonly id: string;
  readonly vms: readonly string[];
  readonly priority: number;
  readonly submittedAt: number;
}

export interface Configuration {
  readonly nodes: readonly Node[];
  readonly vms: readonly VM[];
  readonly vjobs: readonly VJob[];
}

export type { Decision } from './lifecycle.ts';
