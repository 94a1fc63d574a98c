/** JetStream object names. The definitions themselves live in nats/*.json (one source of truth). */
export const JOBS_STREAM = "JOBS";
export const RESULTS_STREAM = "RESULTS";
export const DLQ_STREAM = "JOBS_DLQ";
/** The consumer every worker shares: every job of a type without a concurrency cap. */
export const WORKERS_CONSUMER = "workers";
export const IDEMPOTENCY_BUCKET = "idempotency";
/** The delay queue of jobs submitted to run later (docs/design.md, "Scheduled jobs"). */
export const SCHEDULED_STREAM = "SCHEDULED";
export const SCHEDULER_CONSUMER = "scheduler";
export const JOB_INDEX_STREAM = "JOBINDEX";

/**
 * `workers-<type>`: the consumer of one capped job type (`defineJob({ concurrency })`), whose
 * max_ack_pending is the cap. Every worker that knows the type pulls from it (docs/design.md,
 * "Concurrency per type").
 */
export function typeConsumerName(type: string): string {
  return `${WORKERS_CONSUMER}-${type}`;
}

/** The job type a `workers-<type>` consumer serves, or null for any other consumer. */
export function typeOfConsumer(name: string): string | null {
  const prefix = `${WORKERS_CONSUMER}-`;
  return name.startsWith(prefix) && name.length > prefix.length ? name.slice(prefix.length) : null;
}

/** Webhook deliveries waiting to be sent (work queue), and the ones that failed for good. */
export const WEBHOOKS_STREAM = "WEBHOOKS";
export const WEBHOOKS_DLQ_STREAM = "WEBHOOKS_DLQ";
/** On RESULTS: turns each stored event into its webhook deliveries (the event log is the outbox). */
export const WEBHOOK_DISPATCH_CONSUMER = "webhook-dispatch";
/** On WEBHOOKS: the senders in every worker. */
export const WEBHOOK_SENDERS_CONSUMER = "webhook-senders";
/** Each client's webhook (`client.<clientId>`) and signing secrets (`secret.<clientId>`). */
export const WEBHOOK_CONFIG_BUCKET = "webhooks";
/** The last outcome of each job's deliveries (`<clientId>.<jobId>.<kind>`), kept as long as results are. */
export const WEBHOOK_STATUS_BUCKET = "webhook_status";
