import { defineConfig } from "vitest/config";

// `npm run test:faults`: real processes under injected faults; one file, scenarios in sequence.
export default defineConfig({
  test: {
    include: ["test/faults/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
