import { defineConfig } from 'vitest/config';

// `npm run test:release` sets WHMCS_2FA_TEST_RELEASE=1: then only the smoke test of release/ runs
// (after `npm run release`), one file at a time — the arm64 executable runs under qemu, a second or
// more per command. `npm test` never depends on a release having been built.
const release = process.env.WHMCS_2FA_TEST_RELEASE === '1';

export default defineConfig({
  test: {
    include: release ? ['test/release/**/*.test.ts'] : ['test/**/*.test.ts'],
    exclude: release ? ['**/node_modules/**'] : ['test/release/**', '**/node_modules/**'],
    // Each file removes its temp directories when it ends; the run's private TMPDIR catches the rest.
    setupFiles: ['test/setup.ts'],
    globalSetup: ['test/global-setup.ts'],
    // Integration files each create their own MariaDB database; parallel files are fine,
    // but keep the 2-core CI machine from oversubscribing.
    maxWorkers: release ? 1 : 2,
    testTimeout: release ? 120_000 : 30_000,
    hookTimeout: 60_000,
  },
});
