import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Config } from "../config/mod.ts";
import type { HeraldNats } from "../nats/mod.ts";
import type { Metrics } from "../metrics/mod.ts";
import type { Tokens } from "../auth/mod.ts";
import type { JobRegistry } from "../jobs/mod.ts";
import type { Readiness } from "../http/mod.ts";

/**
 * Where a service's NATS comes from:
 * - `"url"`: NATS_URL, else the default local server (DEFAULT_NATS_URL);
 * - `"embedded"`: NATS_URL, else a nats-server this process starts and stops (one-process mode);
 * - `"none"`: the service does not use NATS.
 */
export type NatsSource = "url" | "embedded" | "none";

/** What the runner has made ready for a service when it calls `start`. */
export interface ServiceParts<S extends NatsSource = NatsSource> {
  config: Config;
  log: Logger;
  /** Connected, with the streams, the consumer and the bucket provisioned. */
  nats: S extends "none" ? null : HeraldNats;
  metrics: Metrics;
  /** The HTTP server: the ops routes are on it; `start` registers the service's plugins; the runner listens. */
  app: FastifyInstance;
  /** /readyz's checks: a part that can be not ready while NATS is up adds one. */
  readiness: Readiness;
  /** Signs and verifies tokens with TOKEN_SECRET (or, with `tokenSecret: "generated"`, the one kept in DATA_DIR). */
  tokens(): Tokens;
  /** The built-in job types and WORKER_JOBS's. */
  jobRegistry(): Promise<JobRegistry>;
}

/** What stops the parts a service runs beside its HTTP server (a worker): after the server drains, before NATS does. */
export type StopBeside = () => Promise<void>;

/** One herald process, as its main.ts describes it to `runService`. */
export interface Service<S extends NatsSource = NatsSource> {
  /** The logger's name and the NATS connection's (`connz`), e.g. `herald-api`. */
  name: string;
  /** The `app` label of every metric, e.g. `api`. */
  metricsLabel: string;
  nats: S;
  /**
   * `"required"`: TOKEN_SECRET must be set, checked with the rest of the configuration before
   * anything starts (apps that share tokens across processes). `"generated"`: without it, one is
   * generated once and kept in DATA_DIR (one-process mode). Default: tokens() needs TOKEN_SECRET.
   */
  tokenSecret?: "required" | "generated";
  /** How long a stop may take before the process exits anyway (default 30 s). */
  shutdownTimeoutMs?: (config: Config) => number;
  /** Registers the service's plugins on `parts.app` and starts what runs beside them. */
  // biome-ignore lint/suspicious/noConfusingVoidType: a service that runs nothing beside its server returns nothing
  start(parts: ServiceParts<S>): Promise<StopBeside | void>;
  /** Once the server listens, at `address`. */
  onListening?(address: string, parts: ServiceParts<S>): void;
}
