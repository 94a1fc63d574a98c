import type { NatsConnection } from "@nats-io/transport-node";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import type { JobRegistry } from "../../libs/jobs/mod.ts";
import type { Config } from "../../libs/config/mod.ts";
import type { Metrics } from "../../libs/metrics/mod.ts";
import type { KV } from "@nats-io/kv";
import type { WebhookSenderOptions } from "./webhookSenders.ts";

export interface WorkerDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  registry: JobRegistry;
  log: Logger;
  /** Attempts before a failure is final (JOB_MAX_DELIVER). */
  maxAttempts: number;
  /** The consumer's ack wait: in-progress acks are sent well inside it. */
  ackWaitMs: number;
  /** Delay before attempt n+1 after attempt n failed: backoff[n-1], the last one repeating. */
  retryBackoffMs: number[];
  progressIntervalMs: number;
  metrics: Metrics;
  /** Each client's webhook and secrets; each job's last delivery outcome (the worker sends webhooks). */
  webhookConfig: KV;
  webhookStatus: KV;
  webhookOptions: WebhookSenderOptions;
}

/** WorkerDeps from a connected, provisioned NATS and the configuration. */
export function workerDeps(
  nats: Pick<WorkerDeps, "nc" | "js" | "jsm" | "webhookConfig" | "webhookStatus">,
  registry: JobRegistry,
  config: Pick<
    Config,
    | "jobMaxDeliver"
    | "jobAckWaitMs"
    | "jobRetryBackoffMs"
    | "progressIntervalMs"
    | "webhookRetryBackoffMs"
    | "webhookAllowHosts"
    | "webhookAllowHttp"
    | "webhookTimeoutMs"
    | "webhookConcurrency"
    | "webhookMaxInFlightPerClient"
  >,
  log: Logger,
  metrics: Metrics,
): WorkerDeps {
  return {
    nc: nats.nc,
    js: nats.js,
    jsm: nats.jsm,
    registry,
    log,
    maxAttempts: config.jobMaxDeliver,
    ackWaitMs: config.jobAckWaitMs,
    retryBackoffMs: config.jobRetryBackoffMs,
    progressIntervalMs: config.progressIntervalMs,
    metrics,
    webhookConfig: nats.webhookConfig,
    webhookStatus: nats.webhookStatus,
    webhookOptions: {
      policy: { allowHttp: config.webhookAllowHttp, allowHosts: config.webhookAllowHosts },
      timeoutMs: config.webhookTimeoutMs,
      retryBackoffMs: config.webhookRetryBackoffMs,
      concurrency: config.webhookConcurrency,
      maxInFlightPerClient: config.webhookMaxInFlightPerClient,
    },
  };
}
