import type { JetStreamClient } from "@nats-io/jetstream";
import type { JobError, JobMessage } from "../../libs/contracts/mod.ts";
import { publishDeadLetter } from "../../libs/queue/mod.ts";

/**
 * Keeps a job that failed for good in JOBS_DLQ, for an operator to resubmit. Called only once its
 * `failed` event is stored: a job whose `failed` was fenced out (by a cancel) must not be kept.
 */
export function keepDeadLetter(
  js: JetStreamClient,
  job: JobMessage,
  attempts: number,
  error: JobError,
): Promise<number> {
  return publishDeadLetter(js, { job, attempts, error, failedAt: new Date().toISOString() });
}
