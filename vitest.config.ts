import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The release smoke test has its own config (vitest.release.config.ts).
    exclude: ['test/release/**', '**/node_modules/**'],
    // Each file removes its temp directories when it ends; the run's private TMPDIR catches the rest.
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Integration files each create their own MariaDB database; parallel files are fine,
    // but keep the 2-core CI machine from oversubscribing.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
