import { describeConstraint, nodesOf, vmsOf, type Constraint } from './constraint.ts';
import type { PlanView } from './plan-view.ts';
import { kindOf } from './registry.ts';

export interface ConstraintViolation {
  /** Index of the broken constraint in the list given. */
  readonly index: number;
  readonly constraint: Constraint;
  readonly message: string;
}

/** The first constraint the plan breaks, each checked by its own kind's `check`. */
export function checkConstraints(view: PlanView, constraints: readonly Constraint[]): ConstraintViolation | undefined {
  const known = new WeakSet<readonly string[]>();
  const firstUnknown = (ids: readonly string[], index: ReadonlyMap<string, number>) => {
    if (known.has(ids)) return undefined;
    const bad = ids.find((id) => !index.has(id));
    if (bad === undefined) known.add(ids);
    return bad;
  };
  for (let index = 0; index < constraints.length; index++) {
    const c = constraints[index]!;
    const unknownVm = firstUnknown(vmsOf(c), view.vmIndex);
    const unknownNode = firstUnknown(nodesOf(c), view.nodeIndex);
    const reason =
      unknownVm !== undefined
        ? `unknown VM '${unknownVm}'`
        : unknownNode !== undefined
          ? `unknown node '${unknownNode}'`
          : kindOf(c.type).check(c as never, view);
    if (reason !== undefined)
      return { index, constraint: c, message: `${describeConstraint(c)} is violated: ${reason}` };
  }
  return undefined;
}
