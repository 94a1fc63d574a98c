import { isTerminal, jobStatus, jobUrls, type JobState } from "../../libs/contracts/mod.ts";
import type { StoredEvent } from "../../libs/results/mod.ts";

/**
 * The public state of a job (GET /v1/jobs/:id), built from its first and last events, at `nowMs`
 * (a scheduled job's status turns from `scheduled` to `queued` when it is due).
 */
export function jobState(first: StoredEvent | null, last: StoredEvent, nowMs = Date.now()): JobState {
  const e = last.event;
  const terminal = isTerminal(e.event);
  return {
    jobId: e.jobId,
    type: e.type,
    status: jobStatus(e, nowMs),
    event: e.event,
    attempt: e.attempt,
    progress: e.progress,
    result: e.result ?? null,
    error: e.error,
    createdAt: (first ?? last).event.at,
    updatedAt: e.at,
    finishedAt: terminal ? e.at : null,
    runAt: (first ?? last).event.runAt ?? null,
    eventId: last.seq,
    ...jobUrls(e.jobId),
  };
}
