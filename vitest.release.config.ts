import { defineConfig } from 'vitest/config';

// `npm run test:release`: the smoke test of release/ (run `npm run release` first). Kept out of
// `npm test`, which must not depend on a release having been built.
export default defineConfig({
  test: {
    include: ['test/release/**/*.test.ts'],
    maxWorkers: 1,
    // The arm64 executable runs under qemu: a second or more per command.
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
