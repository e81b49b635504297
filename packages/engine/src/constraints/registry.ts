import { among } from './among.ts';
import { ban } from './ban.ts';
import type { ConstraintType } from './constraint.ts';
import type { ConstraintKind } from './face.ts';
import { fence } from './fence.ts';
import { gather } from './gather.ts';
import { killed } from './killed.ts';
import { lonely } from './lonely.ts';
import { maxOnline } from './max-online.ts';
import { offline } from './offline.ts';
import { online } from './online.ts';
import { overbook } from './overbook.ts';
import { preserve } from './preserve.ts';
import { quarantine } from './quarantine.ts';
import { ready } from './ready.ts';
import { resourceCapacity } from './resource-capacity.ts';
import { root } from './root.ts';
import { running } from './running.ts';
import { runningCapacity } from './running-capacity.ts';
import { sleeping } from './sleeping.ts';
import { split } from './split.ts';
import { splitAmong } from './split-among.ts';
import { spread } from './spread.ts';

/**
 * Every constraint kind, one line each. The order is the order of preparation: node states first
 * (maxOnline then picks among the nodes nobody else holds), VM states, then demands and capacities.
 */
export const CATALOG: { readonly [T in ConstraintType]: ConstraintKind<T> } = {
  online,
  offline,
  maxOnline,
  running,
  ready,
  sleeping,
  killed,
  preserve,
  overbook,
  spread,
  among,
  split,
  splitAmong,
  gather,
  ban,
  fence,
  lonely,
  root,
  quarantine,
  resourceCapacity,
  runningCapacity,
};

export const CONSTRAINT_TYPES = Object.keys(CATALOG) as ConstraintType[];

export function kindOf<T extends ConstraintType>(type: T): ConstraintKind<T> {
  return CATALOG[type] as ConstraintKind<T>;
}
