import { btrplaceSuite } from './btrplace.ts';
import { engineSuite } from './engine-suite.ts';
import { executorSuite } from './executor-suite.ts';
import { gapSuite } from './gap.ts';
import { labSuite } from './lab-suite.ts';
import type { BenchSuite } from './suite.ts';
import { startupSuite } from './startup-suite.ts';
import { turnSuite } from './turn-suite.ts';

/** Every bench suite, run in this order by `pnpm bench` (those `onRequest` only when named). */
export const SUITES: readonly BenchSuite[] = [
  engineSuite,
  gapSuite,
  executorSuite,
  btrplaceSuite,
  turnSuite,
  startupSuite,
  labSuite,
];
