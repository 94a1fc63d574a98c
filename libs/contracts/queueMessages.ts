import type { JobError } from "./schemas.ts";
import type { WebhookTarget } from "./webhooks.ts";

/**
 * A job as it travels on JOBS.
 * The design: docs/design.md, "The job message".
 */
export interface JobMessage {
  jobId: string;
  clientId: string;
  type: string;
  payload: unknown;
  submittedAt: string;
  /** The API request that accepted the job, so a job can be followed through the logs. */
  requestId?: string;
  /** Set when an operator resubmitted a dead letter: the failed job this one repeats. */
  resubmittedFrom?: string;
  /**
   * The RESULTS sequence of the job's `queued` event (set by enqueueJob): a worker's first
   * attempt fences `started` on it without reading the job's events first.
   */
  queuedSeq?: number;
  /**
   * The job's own time limit in milliseconds (`timeout` in its POST body), when it asked for one:
   * at most its type's limit, checked by the API. Each attempt may run for the shorter of this and
   * its type's limit as the worker knows it (docs/design.md, "Attempts").
   */
  timeoutMs?: number;
  /** When the job is due (ISO-8601), if it was submitted with `runAt` or `delay`: it waits in SCHEDULED until then. */
  runAt?: string;
  /** The job's own webhook (`webhook` in its POST body): every event the worker stores carries it on. */
  webhook?: WebhookTarget;
}

/** What JOBS_DLQ keeps of a job that failed for good (docs/design.md, "JOBS_DLQ", "Dead letters"). */
export interface DeadLetter {
  job: JobMessage;
  /** Attempts made: the `failed` event's `attempt` (counted from the job's events, not from deliveries). */
  attempts: number;
  error: JobError;
  failedAt: string;
}
