import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["apps/**/*.test.ts", "libs/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each test file starts its own nats-server; two cores run two files at a time.
    pool: "forks",
    maxWorkers: 2,
  },
});
