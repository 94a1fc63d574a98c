import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { Tokens } from "../../libs/auth/mod.ts";
import type { JobRegistry } from "../../libs/jobs/mod.ts";
import type { ConnectionState, HeraldNats } from "../../libs/nats/mod.ts";
import type { Config } from "../../libs/config/mod.ts";
import type { Metrics } from "../../libs/metrics/mod.ts";
import { JobWaiters } from "./jobWaiters.ts";
import type { LookupAll, WebhookUrlPolicy } from "../../libs/webhooks/mod.ts";

/** Everything the API's operations need, passed in explicitly (no globals). */
export interface ApiDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  idempotency: KV;
  tokens: Tokens;
  registry: JobRegistry;
  /** Largest JOBS message, from the JOBS definition (max_msg_size). */
  maxJobMessageBytes: number;
  /** How far ahead a job may be scheduled (JOB_MAX_DELAY). */
  maxDelayMs: number;
  /** False while the NATS connection is down: job routes answer 503 at once instead of hanging. */
  natsConnected: () => boolean;
  /** NATS going away ends every wait for a job (nothing can be read until it is back). */
  natsState: Pick<ConnectionState, "onChange">;
  /** Requests waiting for their job to end (GET /v1/jobs/:id?wait=); stopped with the plugin. */
  waiters: JobWaiters;
  /** Job submissions per client per minute; client identities per IP per minute (0: unlimited). */
  rateLimitJobs: number;
  rateLimitClients: number;
  metrics: Metrics;
  /** Each client's webhook and secrets; each job's last webhook delivery outcome. */
  webhookConfig: KV;
  webhookStatus: KV;
  /** Which webhook URLs are accepted (WEBHOOK_ALLOW_HTTP, WEBHOOK_ALLOW_HOSTS). */
  webhookPolicy: WebhookUrlPolicy;
  /** How long a rotated-out secret still signs (WEBHOOK_SECRET_GRACE). */
  webhookSecretGraceMs: number;
  /** How a webhook URL's host is resolved before it is accepted (the system's resolver; tests give their own names). */
  webhookLookup?: LookupAll;
}

/** ApiDeps from a connected, provisioned NATS, the token service and the job types. */
export function apiDeps(
  nats: HeraldNats,
  tokens: Tokens,
  registry: JobRegistry,
  config: Pick<
    Config,
    | "rateLimitJobs"
    | "rateLimitClients"
    | "jobMaxDelayMs"
    | "webhookAllowHttp"
    | "webhookAllowHosts"
    | "webhookSecretGraceMs"
  >,
  metrics: Metrics,
): ApiDeps {
  return {
    js: nats.js,
    jsm: nats.jsm,
    idempotency: nats.idempotency,
    tokens,
    registry,
    maxJobMessageBytes: nats.defs.jobs.max_msg_size ?? 1024 * 1024,
    maxDelayMs: config.jobMaxDelayMs,
    natsConnected: () => nats.state.connected,
    natsState: nats.state,
    waiters: new JobWaiters(nats.nc, metrics.jobWaiters),
    rateLimitJobs: config.rateLimitJobs,
    rateLimitClients: config.rateLimitClients,
    metrics,
    webhookConfig: nats.webhookConfig,
    webhookStatus: nats.webhookStatus,
    webhookPolicy: { allowHttp: config.webhookAllowHttp, allowHosts: config.webhookAllowHosts },
    webhookSecretGraceMs: config.webhookSecretGraceMs,
  };
}
