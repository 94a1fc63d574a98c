import { JetStreamApiError } from "@nats-io/jetstream";
import { jobMsgId, jobSubject, UnavailableError, type JobEvent, type JobMessage } from "../contracts/mod.ts";
import { EventFencedError, publishEvent, readFirstEvent } from "../results/mod.ts";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";

const MAXIMUM_MESSAGES_EXCEEDED = 10077;

/**
 * Stores a job: its `queued` event in RESULTS first (so every later event is fenced on it and the
 * client can already see it), then the job in JOBS. Resolves with the `queued` event's sequence
 * only after JetStream has acknowledged both (DESIGN.md: a 202 means the job is stored).
 *
 * Idempotent for one jobId: a second call (an idempotent submit taking over from a request that
 * died half-way) finds the existing `queued` event, and JOBS drops the repeated message by Msg-Id.
 *
 * If JOBS refuses the job (full, or NATS gone), the job is ended with a `failed` event, so that
 * no client waits for a job that will never run, and the error is raised as a 503.
 */
export async function enqueueJob(deps: { js: JetStreamClient; jsm: JetStreamManager }, job: JobMessage): Promise<number> {
  const queued: JobEvent = {
    jobId: job.jobId,
    clientId: job.clientId,
    type: job.type,
    event: "queued",
    attempt: 0,
    progress: null,
    result: null,
    error: null,
    at: job.submittedAt,
  };
  let eventId: number;
  try {
    eventId = await publishEvent(deps.js, queued, 0);
  } catch (err) {
    if (!(err instanceof EventFencedError)) throw unavailable(err);
    const first = await readFirstEvent(deps.jsm, job.clientId, job.jobId);
    if (!first) throw err;
    eventId = first.seq;
  }

  try {
    await deps.js.publish(jobSubject(job.type), JSON.stringify(job), { msgID: jobMsgId(job.jobId) });
  } catch (err) {
    const full = err instanceof JetStreamApiError && err.code === MAXIMUM_MESSAGES_EXCEEDED;
    const failed: JobEvent = {
      ...queued,
      event: "failed",
      at: new Date().toISOString(),
      error: full
        ? { code: "queue_full", message: "the job queue is full; the job was not queued" }
        : { code: "enqueue_failed", message: "the job could not be queued" },
    };
    // Best effort: if NATS is gone this fails too, and the job stays `queued` with nothing in JOBS
    // only if the JOBS publish really did not land; if it did, the worker runs it normally.
    await publishEvent(deps.js, failed, eventId).catch(() => undefined);
    throw full ? new UnavailableError("the job queue is full; try again later", "queue_full", 5) : unavailable(err);
  }
  return eventId;
}

function unavailable(err: unknown): Error {
  if (err instanceof UnavailableError) return err;
  return new UnavailableError(`NATS is unavailable: ${(err as Error).message}`, "nats_unavailable");
}
