import { isTerminal, statusOf, type JobError, type JobProgress, type JobStatus } from "../../libs/contracts/mod.ts";
import type { StoredEvent } from "../../libs/results/mod.ts";

/** The public state of a job (GET /v1/jobs/:id), built from its first and last events. */
export interface JobState {
  jobId: string;
  type: string;
  status: JobStatus;
  /** The last event's name (`progress`, `retrying`, …): finer than `status`. */
  event: string;
  attempt: number;
  progress: JobProgress | null;
  result: unknown;
  error: JobError | null;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  /** RESULTS sequence of the last event: resume an event stream from here. */
  eventId: number;
  statusUrl: string;
  eventsUrl: string;
}

export function jobUrls(jobId: string): { statusUrl: string; eventsUrl: string } {
  return { statusUrl: `/v1/jobs/${jobId}`, eventsUrl: `/v1/jobs/${jobId}/events` };
}

export function jobState(first: StoredEvent | null, last: StoredEvent): JobState {
  const e = last.event;
  const terminal = isTerminal(e.event);
  return {
    jobId: e.jobId,
    type: e.type,
    status: statusOf(e.event),
    event: e.event,
    attempt: e.attempt,
    progress: e.progress,
    result: e.result ?? null,
    error: e.error,
    createdAt: (first ?? last).event.at,
    updatedAt: e.at,
    finishedAt: terminal ? e.at : null,
    eventId: last.seq,
    ...jobUrls(e.jobId),
  };
}
