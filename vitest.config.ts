import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // most black-box files wait on the hoopq processes they spawn: two files at a time keep both cores busy
    maxWorkers: 2,
  },
});
