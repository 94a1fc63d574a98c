import {
  HeraldError,
  jobMsgId,
  jobSubject,
  scheduledMsgId,
  scheduledSubject,
  UnavailableError,
  type JobEvent,
  type JobMessage,
} from "../contracts/mod.ts";
import { appendEvent, EventFencedError, readFirstEvent } from "../results/mod.ts";
import type { JetStreamApiError, JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { isJetStreamError, JetStreamErrorCode } from "../nats/mod.ts";
import { indexJob } from "../jobIndex/mod.ts";
import type { JobRegistry } from "../jobs/mod.ts";

/** What storing a job needs: JetStream, and the job types' lanes (a capped type's jobs go to its own consumer). */
export interface EnqueueDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  registry: Pick<JobRegistry, "laneOf">;
}

/**
 * Stores a job: its JOBINDEX entry, then its `queued` event in RESULTS (so every later event is fenced on it and the
 * client can already see it), then the job in JOBS. Resolves with the `queued` event's sequence
 * only after JetStream has acknowledged both: a 202 means the job is stored (docs/design.md,
 * "Submit", "Guarantees").
 *
 * Idempotent for one jobId: a second call (an idempotent submit taking over from a request that
 * died half-way) finds the existing `queued` event, and JOBS drops the repeated message by Msg-Id.
 *
 * The job goes to its type's lane of JOBS (`registry.laneOf`): a type with a concurrency cap has
 * its own consumer (docs/design.md, "Concurrency per type").
 *
 * A job whose `runAt` is still ahead goes to SCHEDULED instead of JOBS (the same bounds, the same
 * refusals); a worker's scheduler moves it to JOBS when it is due (docs/design.md, "Scheduled jobs").
 *
 * If JOBS refuses the job (full), the job is ended with a `failed` event, so that no client waits
 * for a job that will never run, and a QueueFullError (503) is raised. If NATS does not answer, the
 * outcome is unknown: a 503, and the job is left as it is for a retry to complete.
 */
export async function enqueueJob(deps: EnqueueDeps, job: JobMessage): Promise<number> {
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
    ...(job.runAt !== undefined ? { runAt: job.runAt } : {}),
  };
  let eventId: number;
  let runAt = job.runAt;
  try {
    // Indexed before `queued` is stored, so that a list that read RESULTS' last sequence (its
    // eventId) and then the index finds every job whose `queued` is at or below it: nothing an
    // event stream resumed from that eventId skips. An entry whose job never got its `queued`
    // (a crash, NATS gone) is skipped by the list. (docs/design.md, "Listing jobs".)
    await indexJob(deps, job.clientId, { jobId: job.jobId, type: job.type, createdAt: job.submittedAt });
    eventId = await appendEvent(deps.js, queued, 0, { webhook: job.webhook ?? null });
  } catch (err) {
    if (!(err instanceof EventFencedError)) throw unavailable(err);
    const first = await readFirstEvent(deps.jsm, job.clientId, job.jobId, "leader");
    if (!first) throw err;
    eventId = first.seq;
    // A takeover resolved its own runAt from its own clock: the job keeps the one it was stored with.
    runAt = first.event.runAt;
  }

  try {
    const { runAt: _asRequested, ...fields } = job;
    const message: JobMessage = { ...fields, queuedSeq: eventId, ...(runAt !== undefined ? { runAt } : {}) };
    if (runAt !== undefined && Date.parse(runAt) > Date.now()) {
      await deps.js.publish(scheduledSubject(job.type, job.clientId), JSON.stringify(message), {
        msgID: scheduledMsgId(job.jobId),
      });
    } else {
      await deps.js.publish(
        jobSubject(job.type, job.clientId, deps.registry.laneOf(job.type)),
        JSON.stringify(message),
        {
          msgID: jobMsgId(job.jobId),
        },
      );
    }
  } catch (err) {
    const refusal = jobsRefusal(err);
    if (refusal) {
      // JetStream refused the job for certain: end it, so that its client does not wait for it.
      const { runAt: _queuedOnly, ...base } = queued;
      const failed: JobEvent = {
        ...base,
        event: "failed",
        at: new Date().toISOString(),
        error: { code: refusal.code, message: `${refusal.message}; the job was not queued` },
      };
      await appendEvent(deps.js, failed, eventId, { webhook: job.webhook ?? null }).catch(() => undefined);
      throw refusal;
    }
    // Anything else (a timeout, NATS gone) is ambiguous: the job may be stored after all. Leave it
    // `queued`: a retry of the same request (Idempotency-Key) stores the same job again, and JOBS
    // drops the copy by Msg-Id if the first one did land.
    throw unavailable(err);
  }
  return eventId;
}

/** JetStream refused the job: JOBS holds its max_msgs (discard new). Definitive, unlike a timeout. */
export class QueueFullError extends UnavailableError {
  constructor() {
    super("the job queue is full; try again later", "queue_full", 5);
  }
}

/** JetStream refused the job: this client has JOBS_MAX_QUEUED_PER_CLIENT jobs of this type queued. */
export class TooManyQueuedJobsError extends HeraldError {
  constructor() {
    super(429, "too_many_queued_jobs", "you have too many jobs of this type queued or running; wait for some to end", {
      "retry-after": "5",
    });
  }
}

/**
 * The refusal a publish to JOBS (or SCHEDULED) met for certain, or null if it is anything else (a
 * timeout, NATS gone: the message may be stored after all). Both limits answer with the same API
 * error code (MAXIMUM_MESSAGES_EXCEEDED); the description tells which.
 */
export function jobsRefusal(err: unknown): QueueFullError | TooManyQueuedJobsError | null {
  if (!isJetStreamError(err, JetStreamErrorCode.MAXIMUM_MESSAGES_EXCEEDED)) return null;
  return /per subject/i.test((err as JetStreamApiError).message) ? new TooManyQueuedJobsError() : new QueueFullError();
}

function unavailable(err: unknown): Error {
  if (err instanceof UnavailableError) return err;
  return new UnavailableError(`NATS is unavailable: ${(err as Error).message}`, "nats_unavailable");
}
