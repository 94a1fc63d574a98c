import { parseDuration } from "./duration.ts";
import { parseAllowHosts, type AllowList } from "../webhooks/urlPolicy.ts";

export { parseDuration } from "./duration.ts";

/**
 * herald's configuration, from environment variables. Every app reads the same set and uses
 * what it needs; `loadConfig` checks all of them and reports every bad value at once.
 */
export interface Config {
  /** NATS servers; empty in one-process mode, which starts its own. */
  natsServers: string[];
  natsReplicas: 1 | 3;
  /** Path to a nats-server binary; default: the one `npm run setup` chose (libs/nats findNatsServer). */
  natsServerBin: string | undefined;
  host: string;
  port: number;
  /** HS256 secrets; the first signs, all verify (rotation). Empty only in one-process mode. */
  tokenSecrets: string[];
  tokenTtlMs: number;
  resultsMaxAgeMs: number;
  jobMaxDeliver: number;
  jobAckWaitMs: number;
  jobRetryBackoffMs: number[];
  workerConcurrency: number;
  /** How long a stopping worker lets running jobs finish before handing them back. */
  workerShutdownGraceMs: number;
  /** A module exporting extra job types (see docs/job-types.md). */
  workerJobs: string | null;
  progressIntervalMs: number;
  sseHeartbeatMs: number;
  /** The `retry:` an event stream starts with: how soon EventSource reconnects. */
  sseRetryMs: number;
  /** Per-connection send buffer: a client this far behind is disconnected (its reconnect replays). */
  sseSendBufferBytes: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  dataDir: string;
  /** Largest HTTP request body (413 beyond). */
  bodyLimitBytes: number;
  /** Job submissions per client per minute (0: no limit). */
  rateLimitJobs: number;
  /** Client identities created per IP address per minute (0: no limit). */
  rateLimitClients: number;
  /** Concurrent event streams per client on one notifier (429 beyond). */
  sseMaxStreamsPerClient: number;
  /** Resumes (streams that read RESULTS first) one notifier runs at once. */
  sseResumeConcurrency: number;
  /** Resumes waiting for a slot, at most (503 + Retry-After beyond). */
  sseResumeQueue: number;
  /** How long a resume may wait for a slot (503 + Retry-After after). */
  sseResumeQueueWaitMs: number;
  /** A stopping notifier ends its streams spread over this long (a rolling restart is not a storm). */
  sseDrainWindowMs: number;
  /**
   * How far ahead a job may be scheduled (`runAt`, `delay`): 400 beyond. At most RESULTS_MAX_AGE, so
   * that a job's `queued` event is still kept when it runs.
   */
  jobMaxDelayMs: number;
  /** Jobs of one type a client may have queued or running at once (JOBS max_msgs_per_subject). */
  jobsMaxQueuedPerClient: number;
  /** Origins allowed to call herald from a browser (CORS), besides herald's own. */
  corsOrigins: string[];
  /** Trust X-Forwarded-* (behind a reverse proxy): client IPs for rate limits, https for Secure cookies. */
  trustProxy: boolean;
  /** WEBHOOK_RETRY_BACKOFF: the wait before each attempt after the first; its length + 1 attempts in all. */
  webhookRetryBackoffMs: number[];
  /** WEBHOOK_ALLOW_HOSTS: hosts, IPs and CIDRs a webhook may reach although private (tests, intranets). */
  webhookAllowHosts: AllowList;
  /** WEBHOOK_ALLOW_HTTP: plain-http webhook URLs are accepted. */
  webhookAllowHttp: boolean;
  /** WEBHOOK_SECRET_GRACE: how long the previous secret also signs after a rotation. */
  webhookSecretGraceMs: number;
  /** WEBHOOK_TIMEOUT: one attempt, connect to the end of the answer. */
  webhookTimeoutMs: number;
  /** WEBHOOK_CONCURRENCY: attempts in flight at once per worker. */
  webhookConcurrency: number;
  /** WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT: attempts in flight at once for one client, per worker. */
  webhookMaxInFlightPerClient: number;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  };

  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      problems.push(`${name}=${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`);
      return fallback;
    }
    return n;
  };

  const duration = (name: string, fallback: string, minMs: number, maxMs: number): number => {
    const raw = get(name) ?? fallback;
    const ms = parseDuration(raw);
    if (ms === null || ms < minMs || ms > maxMs) {
      problems.push(
        `${name}=${JSON.stringify(raw)}: expected a duration like 500ms, 30s, 5m, 24h or 7d, from ${minMs}ms to ${maxMs}ms`,
      );
      return parseDuration(fallback)!;
    }
    return ms;
  };

  const natsServers = (get("NATS_URL") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const s of natsServers) {
    if (!/^(nats|tls|ws|wss):\/\/[^\s]+$|^[\w.-]+:\d+$/.test(s)) {
      problems.push(`NATS_URL: ${JSON.stringify(s)} is not a server URL like nats://127.0.0.1:4222`);
    }
  }

  const replicasRaw = int("NATS_REPLICAS", 1, 1, 3);
  if (replicasRaw === 2) problems.push("NATS_REPLICAS=2: use 1 (single server) or 3 (cluster)");

  const tokenSecrets = (get("TOKEN_SECRET") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const [i, s] of tokenSecrets.entries()) {
    if (Buffer.byteLength(s) < 32) {
      problems.push(`TOKEN_SECRET: secret #${i + 1} is shorter than 32 bytes; use e.g. \`openssl rand -base64 48\``);
    }
  }

  const backoffRaw = get("JOB_RETRY_BACKOFF") ?? "1s,5s,30s";
  const jobRetryBackoffMs: number[] = [];
  for (const part of backoffRaw.split(",")) {
    const ms = parseDuration(part);
    if (ms === null || ms > 3_600_000) {
      problems.push(`JOB_RETRY_BACKOFF=${JSON.stringify(backoffRaw)}: expected durations like 1s,5s,30s (each ≤ 1h)`);
      break;
    }
    jobRetryBackoffMs.push(ms);
  }

  const bool = (name: string, fallback: boolean): boolean => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    problems.push(`${name}=${JSON.stringify(raw)}: expected true or false`);
    return fallback;
  };

  const corsOrigins = (get("CORS_ORIGINS") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const o of corsOrigins) {
    let ok = false;
    try {
      const u = new URL(o);
      ok = (u.protocol === "http:" || u.protocol === "https:") && u.origin === o;
    } catch {
      ok = false;
    }
    if (!ok)
      problems.push(
        `CORS_ORIGINS: ${JSON.stringify(o)} is not an origin like https://app.example.com (scheme, host, optional port; no path)`,
      );
  }

  const webhookBackoffRaw = get("WEBHOOK_RETRY_BACKOFF") ?? "5s,5m,30m,2h,5h,10h";
  const webhookRetryBackoffMs: number[] = [];
  for (const part of webhookBackoffRaw.split(",")) {
    const ms = parseDuration(part.trim());
    if (ms === null || ms > 86_400_000) {
      problems.push(
        `WEBHOOK_RETRY_BACKOFF=${JSON.stringify(webhookBackoffRaw)}: expected durations like 5s,5m,30m,2h,5h,10h (each ≤ 24h)`,
      );
      break;
    }
    webhookRetryBackoffMs.push(ms);
  }
  const allowHosts = parseAllowHosts(get("WEBHOOK_ALLOW_HOSTS") ?? "");
  if (typeof allowHosts === "string") problems.push(`WEBHOOK_ALLOW_HOSTS: ${allowHosts}`);

  const logLevel = (get("LOG_LEVEL") ?? "info") as Config["logLevel"];
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`LOG_LEVEL=${JSON.stringify(logLevel)}: expected one of ${LOG_LEVELS.join(", ")}`);
  }

  const resultsMaxAgeMs = duration("RESULTS_MAX_AGE", "24h", 60_000, 365 * 86_400_000);
  // Default: a week, or RESULTS_MAX_AGE if that is shorter. Set larger than RESULTS_MAX_AGE, it is
  // an error rather than quietly cut down: a job could run after its own history expired.
  const jobMaxDelayMs = duration("JOB_MAX_DELAY", "7d", 0, 365 * 86_400_000);
  if (get("JOB_MAX_DELAY") !== undefined && jobMaxDelayMs > resultsMaxAgeMs) {
    problems.push(
      `JOB_MAX_DELAY=${JSON.stringify(get("JOB_MAX_DELAY"))}: must be at most RESULTS_MAX_AGE (${resultsMaxAgeMs}ms), which keeps a scheduled job's events`,
    );
  }

  const config: Config = {
    natsServers,
    natsReplicas: replicasRaw === 3 ? 3 : 1,
    natsServerBin: get("NATS_SERVER_BIN"),
    host: get("HOST") ?? "127.0.0.1",
    port: int("PORT", 3000, 0, 65535),
    tokenSecrets,
    tokenTtlMs: duration("TOKEN_TTL", "7d", 60_000, 365 * 86_400_000),
    resultsMaxAgeMs,
    jobMaxDeliver: int("JOB_MAX_DELIVER", 5, 1, 100),
    jobAckWaitMs: duration("JOB_ACK_WAIT", "30s", 1_000, 3_600_000),
    jobRetryBackoffMs: jobRetryBackoffMs.length ? jobRetryBackoffMs : [1_000, 5_000, 30_000],
    workerConcurrency: int("WORKER_CONCURRENCY", 4, 1, 1000),
    workerShutdownGraceMs: duration("WORKER_SHUTDOWN_GRACE", "10s", 0, 600_000),
    workerJobs: get("WORKER_JOBS") ?? null,
    progressIntervalMs: int("PROGRESS_INTERVAL_MS", 100, 0, 60_000),
    sseHeartbeatMs: int("SSE_HEARTBEAT_MS", 15_000, 100, 300_000),
    sseRetryMs: int("SSE_RETRY_MS", 2_000, 0, 300_000),
    sseSendBufferBytes: int("SSE_SEND_BUFFER_BYTES", 1024 * 1024, 1024, 256 * 1024 * 1024),
    logLevel: LOG_LEVELS.includes(logLevel) ? logLevel : "info",
    dataDir: get("DATA_DIR") ?? ".data",
    bodyLimitBytes: int("BODY_LIMIT_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024),
    rateLimitJobs: int("RATE_LIMIT_JOBS", 600, 0, 10_000_000),
    rateLimitClients: int("RATE_LIMIT_CLIENTS", 30, 0, 10_000_000),
    sseMaxStreamsPerClient: int("SSE_MAX_STREAMS_PER_CLIENT", 16, 1, 10_000),
    sseResumeConcurrency: int("SSE_RESUME_CONCURRENCY", 256, 1, 100_000),
    sseResumeQueue: int("SSE_RESUME_QUEUE", 20_000, 0, 1_000_000),
    sseResumeQueueWaitMs: duration("SSE_RESUME_QUEUE_WAIT", "5s", 0, 600_000),
    sseDrainWindowMs: duration("SSE_DRAIN_WINDOW", "10s", 0, 600_000),
    jobMaxDelayMs: Math.min(jobMaxDelayMs, resultsMaxAgeMs),
    jobsMaxQueuedPerClient: int("JOBS_MAX_QUEUED_PER_CLIENT", 1_000, 1, 1_000_000),
    corsOrigins,
    trustProxy: bool("TRUST_PROXY", false),
    webhookRetryBackoffMs,
    webhookAllowHosts: typeof allowHosts === "string" ? (parseAllowHosts("")! as AllowList) : allowHosts,
    webhookAllowHttp: bool("WEBHOOK_ALLOW_HTTP", false),
    webhookSecretGraceMs: duration("WEBHOOK_SECRET_GRACE", "24h", 0, 30 * 86_400_000),
    webhookTimeoutMs: duration("WEBHOOK_TIMEOUT", "10s", 100, 60_000),
    webhookConcurrency: int("WEBHOOK_CONCURRENCY", 32, 1, 10_000),
    webhookMaxInFlightPerClient: int("WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT", 4, 1, 10_000),
  };

  if (problems.length) throw new ConfigError(problems);
  return config;
}

/** Apps run on their own (not the one-process mode) share tokens with each other: the secret must be given. */
export function requireTokenSecrets(config: Config): string[] {
  if (config.tokenSecrets.length === 0) {
    throw new ConfigError([
      "TOKEN_SECRET is required (one or more comma-separated secrets of at least 32 bytes, the same for every api and notifier); e.g. `export TOKEN_SECRET=$(openssl rand -base64 48)`",
    ]);
  }
  return config.tokenSecrets;
}
