import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // Integration tests start real processes; the machines are shared and slow.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
