import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The release smoke test has its own config (vitest.release.config.ts).
    exclude: ['test/release/**', '**/node_modules/**'],
    // Integration files each create their own MariaDB database; parallel files are fine,
    // but keep the 2-core CI machine from oversubscribing.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
