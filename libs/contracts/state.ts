import type { JobError, JobProgress } from "./events.ts";
import type { JobStatus } from "./status.ts";

/** The public state of a job: what `GET /v1/jobs/:id` (and `DELETE`) answer. */
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

/** What `POST /v1/jobs` answers (202). */
export interface SubmittedJob {
  jobId: string;
  status: "queued";
  statusUrl: string;
  eventsUrl: string;
  /** The `queued` event's RESULTS sequence. */
  eventId: number;
}

/** What `POST /v1/clients` answers (201). */
export interface ClientIdentity {
  clientId: string;
  token: string;
  expiresAt: string;
}

/** The body of every error answer. */
export interface ErrorBody {
  error: { code: string; message: string };
}

export function jobUrls(jobId: string): { statusUrl: string; eventsUrl: string } {
  return { statusUrl: `/v1/jobs/${jobId}`, eventsUrl: `/v1/jobs/${jobId}/events` };
}
