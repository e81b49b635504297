import { defineConfig } from 'vitest/config';

/** `pnpm test:faults`: the fault-injection suite alone (test/faults), bounded by ENTROPY_FAULTS_BUDGET_MS. */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    testTimeout: 900_000,
    hookTimeout: 180_000,
    pool: 'forks',
    // The commands the tests start run compiled: build them from these sources first.
    globalSetup: ['test/build-setup.ts'],
  },
});
