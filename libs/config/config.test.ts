import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, parseDuration, requireTokenSecrets } from "./mod.ts";

describe("loadConfig", () => {
  it("has defaults that start herald on a laptop", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      natsServers: [],
      natsReplicas: 1,
      host: "127.0.0.1",
      port: 3000,
      tokenSecrets: [],
      resultsMaxAgeMs: 86_400_000,
      jobMaxDeliver: 5,
      jobAckWaitMs: 30_000,
      jobRetryBackoffMs: [1_000, 5_000, 30_000],
      workerConcurrency: 4,
      sseHeartbeatMs: 15_000,
      logLevel: "info",
      dataDir: ".data",
    });
  });

  it("reads every variable", () => {
    const c = loadConfig({
      NATS_URL: "nats://a:4222, nats://b:4222",
      NATS_REPLICAS: "3",
      PORT: "8080",
      TOKEN_SECRET: `${"x".repeat(32)},${"y".repeat(40)}`,
      RESULTS_MAX_AGE: "2h",
      JOB_MAX_DELIVER: "7",
      JOB_ACK_WAIT: "45s",
      JOB_RETRY_BACKOFF: "100ms,2s",
      WORKER_CONCURRENCY: "16",
      WORKER_JOBS: "examples/custom-jobs.ts",
      LOG_LEVEL: "debug",
    });
    expect(c.natsServers).toEqual(["nats://a:4222", "nats://b:4222"]);
    expect(c.natsReplicas).toBe(3);
    expect(c.tokenSecrets).toHaveLength(2);
    expect(c.resultsMaxAgeMs).toBe(7_200_000);
    expect(c.jobAckWaitMs).toBe(45_000);
    expect(c.jobRetryBackoffMs).toEqual([100, 2_000]);
    expect(c.workerJobs).toBe("examples/custom-jobs.ts");
  });

  it("reports every bad value at once, one clear line each", () => {
    let err: ConfigError | null = null;
    try {
      loadConfig({
        PORT: "abc",
        WORKER_CONCURRENCY: "0",
        RESULTS_MAX_AGE: "forever",
        NATS_REPLICAS: "2",
        TOKEN_SECRET: "short",
        LOG_LEVEL: "loud",
        NATS_URL: "not a url",
      });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const names = err!.problems.map((p) => p.split(/[=:]/)[0]);
    expect(names.sort()).toEqual(
      [
        "LOG_LEVEL",
        "NATS_REPLICAS",
        "NATS_URL",
        "PORT",
        "RESULTS_MAX_AGE",
        "TOKEN_SECRET",
        "WORKER_CONCURRENCY",
      ].sort(),
    );
    expect(err!.message).toContain('PORT="abc": expected a whole number from 0 to 65535');
  });

  it("JOB_MAX_DELAY: a week or RESULTS_MAX_AGE, whichever is shorter; larger than RESULTS_MAX_AGE is an error", () => {
    expect(loadConfig({}).jobMaxDelayMs).toBe(86_400_000);
    expect(loadConfig({ RESULTS_MAX_AGE: "30d" }).jobMaxDelayMs).toBe(7 * 86_400_000);
    expect(loadConfig({ RESULTS_MAX_AGE: "30d", JOB_MAX_DELAY: "30d" }).jobMaxDelayMs).toBe(30 * 86_400_000);
    expect(loadConfig({ JOB_MAX_DELAY: "1h" }).jobMaxDelayMs).toBe(3_600_000);
    expect(() => loadConfig({ JOB_MAX_DELAY: "2d" })).toThrow(/JOB_MAX_DELAY="2d": must be at most RESULTS_MAX_AGE/);
    expect(() => loadConfig({ JOB_MAX_DELAY: "soon" })).toThrow(/JOB_MAX_DELAY="soon"/);
  });

  it("requires TOKEN_SECRET for apps run on their own", () => {
    expect(() => requireTokenSecrets(loadConfig({}))).toThrow(/TOKEN_SECRET is required/);
  });
});

describe("parseDuration", () => {
  it.each([
    ["250", 250],
    ["250ms", 250],
    ["1.5s", 1_500],
    ["5m", 300_000],
    ["24h", 86_400_000],
    ["7d", 604_800_000],
  ])("%s → %d ms", (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(["", "1w", "-1s", "s", "1 2s"])("rejects %j", (text) => expect(parseDuration(text)).toBeNull());
});
