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
