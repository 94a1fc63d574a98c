/** JetStream object names. The definitions themselves live in nats/*.json (one source of truth). */
export const JOBS_STREAM = "JOBS";
export const RESULTS_STREAM = "RESULTS";
export const DLQ_STREAM = "JOBS_DLQ";
export const WORKERS_CONSUMER = "workers";
export const IDEMPOTENCY_BUCKET = "idempotency";
/** The delay queue of jobs submitted to run later (docs/design.md, "Scheduled jobs"). */
export const SCHEDULED_STREAM = "SCHEDULED";
export const SCHEDULER_CONSUMER = "scheduler";
export const JOB_INDEX_STREAM = "JOBINDEX";
