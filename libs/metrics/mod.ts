import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * herald's Prometheus metrics, one registry per process (the one-process mode's api, worker and
 * notifier share it; tests make one per stack). What to alert on is in docs/deploy.md.
 */
export interface Metrics {
  registry: Registry;
  jobsSubmitted: Counter<"type">;
  jobsFinished: Counter<"type" | "outcome">;
  /** Attempts aborted at their time limit (each retried or failed with code `timeout`). */
  jobsTimedOut: Counter<"type">;
  /** started → terminal, in the worker: how long handlers run. */
  jobRunSeconds: Histogram<"type">;
  /** queued → terminal: what the user waits for. */
  jobLatencySeconds: Histogram<"type">;
  sseConnections: Gauge;
  sseReplayedEvents: Counter;
  sseSlowClientDisconnects: Counter;
  /** Request → caught up, for streams that resume (read RESULTS before going live). */
  sseResumeSeconds: Histogram;
  /** Streams turned away with 503 + Retry-After, by reason (nats_unavailable, overloaded). */
  sseShed: Counter<"reason">;
  /** Streams ended by an error (a JetStream request that failed during a replay, …). */
  sseStreamErrors: Counter;
  natsReconnects: Counter;
  /** GET /v1/jobs/:id?wait= requests waiting for their job to end on this api. */
  jobWaiters: Gauge;
  /** Jobs waiting in SCHEDULED for their runAt (read by the worker's scheduler every few seconds). */
  scheduledJobs: Gauge;
  /** A capped job type's cap (its consumer's max_ack_pending), read by each worker every few seconds. */
  jobTypeConcurrency: Gauge<"type">;
  /** A capped job type's jobs held by workers now: running, or waiting out a retry backoff (num_ack_pending). */
  jobTypeInFlight: Gauge<"type">;
  /** A capped job type's jobs queued, not yet delivered (num_pending): what its cap holds back. */
  jobTypeQueued: Gauge<"type">;
  /** Deliveries a worker handed straight back (nak) because a pull from another consumer filled its last slot, by consumer. */
  deliveriesHandedBack: Counter<"consumer">;
  /**
   * Webhook deliveries by outcome: `queued` (by the dispatcher), then for each attempt `delivered`,
   * `retrying`, `dead_lettered`, `gone` (410), `dropped` (the client's webhook changed meanwhile);
   * `put_back`: taken when its client was at WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT, put back for later.
   */
  webhookDeliveries: Counter<"outcome">;
  /** One webhook attempt: the request to the receiver's answer (or the error). */
  webhookAttemptSeconds: Histogram<"result">;
  /** Deliveries waiting in WEBHOOKS (queued or between retries), read by each worker every 5 s. */
  webhookBacklog: Gauge;
  /** Clients with a webhook, as this worker's dispatcher knows them (kept current by a watch). */
  webhookClients: Gauge;
}

export function createMetrics(app: string): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ app });
  collectDefaultMetrics({ register: registry, prefix: "herald_" }); // herald_process_*, herald_nodejs_*
  const buckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];
  return {
    registry,
    jobsSubmitted: new Counter({
      name: "herald_jobs_submitted_total",
      help: "Jobs accepted (202), by type",
      labelNames: ["type"],
      registers: [registry],
    }),
    jobsFinished: new Counter({
      name: "herald_jobs_finished_total",
      help: "Jobs that reached their terminal event, by type and outcome (succeeded, failed, canceled)",
      labelNames: ["type", "outcome"],
      registers: [registry],
    }),
    jobsTimedOut: new Counter({
      name: "herald_jobs_timed_out_total",
      help: "Attempts aborted at their time limit, by type (each then retried or failed with code timeout)",
      labelNames: ["type"],
      registers: [registry],
    }),
    jobRunSeconds: new Histogram({
      name: "herald_job_run_seconds",
      help: "Handler run time of the final attempt (started to terminal)",
      labelNames: ["type"],
      buckets,
      registers: [registry],
    }),
    jobLatencySeconds: new Histogram({
      name: "herald_job_latency_seconds",
      help: "Time from submission (queued) to the terminal event",
      labelNames: ["type"],
      buckets,
      registers: [registry],
    }),
    sseConnections: new Gauge({
      name: "herald_sse_connections",
      help: "Event streams open on this notifier",
      registers: [registry],
    }),
    sseReplayedEvents: new Counter({
      name: "herald_sse_replayed_events_total",
      help: "Events sent from RESULTS to resuming clients",
      registers: [registry],
    }),
    sseSlowClientDisconnects: new Counter({
      name: "herald_sse_slow_client_disconnects_total",
      help: "Streams closed because the client stopped reading (send buffer full)",
      registers: [registry],
    }),
    sseResumeSeconds: new Histogram({
      name: "herald_sse_resume_seconds",
      help: "Time from a resuming stream's request to the end of its replay (live from then on)",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    sseShed: new Counter({
      name: "herald_sse_shed_total",
      help: "Event streams turned away with 503 + Retry-After, by reason (nats_unavailable, overloaded)",
      labelNames: ["reason"],
      registers: [registry],
    }),
    sseStreamErrors: new Counter({
      name: "herald_sse_stream_errors_total",
      help: "Event streams ended by an error (e.g. a failed JetStream request)",
      registers: [registry],
    }),
    natsReconnects: new Counter({
      name: "herald_nats_reconnects_total",
      help: "Times this process reconnected to NATS",
      registers: [registry],
    }),
    jobWaiters: new Gauge({
      name: "herald_job_waiters",
      help: "GET /v1/jobs/:id?wait= requests waiting for their job to end on this api",
      registers: [registry],
    }),
    scheduledJobs: new Gauge({
      name: "herald_scheduled_jobs",
      help: "Jobs waiting in SCHEDULED for their runAt (the stream's message count, read by each worker every 5 s)",
      registers: [registry],
    }),
    jobTypeConcurrency: new Gauge({
      name: "herald_job_type_concurrency",
      help: "A capped job type's concurrency: at most this many of its jobs run at once across all workers (read by each worker every 5 s)",
      labelNames: ["type"],
      registers: [registry],
    }),
    jobTypeInFlight: new Gauge({
      name: "herald_job_type_in_flight",
      help: "A capped job type's jobs held by workers: running, or waiting out a retry backoff; at most its concurrency",
      labelNames: ["type"],
      registers: [registry],
    }),
    jobTypeQueued: new Gauge({
      name: "herald_job_type_queued",
      help: "A capped job type's jobs queued and not yet delivered: what its cap holds back",
      labelNames: ["type"],
      registers: [registry],
    }),
    webhookDeliveries: new Counter({
      name: "herald_webhook_deliveries_total",
      help: "Webhook deliveries by outcome: queued, delivered, retrying, dead_lettered, gone (410), dropped (webhook changed), put_back (its client at its in-flight bound)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    webhookAttemptSeconds: new Histogram({
      name: "herald_webhook_attempt_seconds",
      help: "One webhook attempt, request to answer, by result (2xx, 4xx, 5xx, timeout, network, refused)",
      labelNames: ["result"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    webhookBacklog: new Gauge({
      name: "herald_webhook_backlog",
      help: "Webhook deliveries waiting in WEBHOOKS, queued or between retries (read by each worker every 5 s)",
      registers: [registry],
    }),
    webhookClients: new Gauge({
      name: "herald_webhook_clients",
      help: "Clients with a webhook, as this worker's dispatcher knows them (kept current by a watch of the webhooks bucket)",
      registers: [registry],
    }),
    deliveriesHandedBack: new Counter({
      name: "herald_worker_deliveries_handed_back_total",
      help: "Job deliveries a worker handed straight back (nak) because its slots filled while it pulled from several consumers, by consumer (workers, workers-<type>)",
      labelNames: ["consumer"],
      registers: [registry],
    }),
  };
}
