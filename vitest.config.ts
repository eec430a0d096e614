import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Multi-process and socket tests share ports and PTYs; files run in parallel workers but
    // each file picks its own ports.
    pool: 'forks',
  },
});
