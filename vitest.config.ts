import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // The fault-injection suite runs on its own: `pnpm test:faults` (vitest.faults.config.ts).
    exclude: ['test/faults/**', '**/node_modules/**'],
    // Integration tests start real processes; the machines are shared and slow.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The commands the tests start run compiled: build them from these sources first.
    globalSetup: ['test/build-setup.ts'],
  },
});
