import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["apps/**/*.test.ts", "libs/**/*.test.ts", "scripts/**/*.test.ts", "test/**/*.test.ts"],
    // The fault suite runs on its own: npm run test:faults (vitest.faults.config.ts).
    exclude: ["test/faults/**", "**/node_modules/**"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each test file starts its own nats-server; two cores run two files at a time.
    pool: "forks",
    maxWorkers: 2,
  },
});
