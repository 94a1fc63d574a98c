import type { JobEventName } from "./events.ts";

/**
 * A job's public status, as `GET /v1/jobs/:id` answers it: coarser than its last event's name.
 * The design: docs/design.md, "Job status".
 */
export const JOB_STATUSES = ["scheduled", "queued", "running", "retrying", "succeeded", "failed", "canceled"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

// A Record, so that a new event name does not compile until it is given a status.
const STATUS_OF_EVENT: Readonly<Record<JobEventName, JobStatus>> = {
  queued: "queued",
  started: "running",
  progress: "running",
  retrying: "retrying",
  succeeded: "succeeded",
  failed: "failed",
  canceled: "canceled",
};

/**
 * The status a job is in after this event, by its name alone: never `scheduled`, which also
 * depends on the time (jobStatus).
 */
export function statusOf(event: JobEventName): JobStatus {
  return STATUS_OF_EVENT[event];
}

/**
 * The status of a job whose last event is `last`, at `nowMs`: `scheduled` while its last event is
 * a `queued` that carries a `runAt` still in the future (docs/design.md, "Scheduled jobs"), else
 * statusOf its name. Takes an event (no `runAt`: absent) or a job state (no `runAt`: null).
 */
export function jobStatus(last: { event: JobEventName; runAt?: string | null }, nowMs: number): JobStatus {
  if (last.event === "queued" && last.runAt != null && Date.parse(last.runAt) > nowMs) return "scheduled";
  return statusOf(last.event);
}
