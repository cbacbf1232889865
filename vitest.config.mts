import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // Test files run one after another: several of them load every core on purpose (concurrency, abort), and
    // the event-loop test must not share the machine with another file's jobs.
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
  },
});
