// The budgets' shape and defaults, apart from budgets.ts: the CLI declares them without loading the engine.

/** The control loop's anti-thrash budgets (budgets.ts says what each does). */
export interface TurnBudgets {
  /** The overload a plan that only rebalances must relieve, in fractions of a node's capacity (0: any). */
  readonly minGain: number;
  /** How long a VM a plan migrated stays put (ms; 0: no hold). */
  readonly moveHoldMs: number;
  /** Migrations per turn (Infinity: no limit). */
  readonly maxMigrations: number;
  /** Memory migrated per turn, MiB (Infinity: no limit). */
  readonly maxMigratedMiB: number;
}

export const DEFAULT_TURN_BUDGETS: TurnBudgets = {
  minGain: 0.05,
  moveHoldMs: 5 * 60_000,
  maxMigrations: 8,
  maxMigratedMiB: 16_384,
};

export const NO_TURN_BUDGETS: TurnBudgets = {
  minGain: 0,
  moveHoldMs: 0,
  maxMigrations: Infinity,
  maxMigratedMiB: Infinity,
};
