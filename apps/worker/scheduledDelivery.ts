import type { JsMsg } from "@nats-io/jetstream";
import { readJobNow } from "../../libs/results/mod.ts";
import { moveDueJob, QueueFullError, TooManyQueuedJobsError } from "../../libs/queue/mod.ts";
import type { WorkerDeps } from "./deps.ts";
import { parseJob } from "./parseJob.ts";

/** How one SCHEDULED delivery ended. */
export type ScheduledOutcome =
  /** Not a scheduled job (no job, or no readable runAt): terminated, never redelivered. */
  | "malformed"
  /** The job has moved on (canceled while scheduled, or already moved and started): acked, not run. */
  | "dropped"
  /** Not due yet: nak'ed with the time left, to come back when it is due. */
  | "parked"
  /** Due: published into JOBS, then acked. */
  | "moved"
  /** Due, but JOBS refused it (full, or the client's bound): nak'ed to try again shortly. */
  | "refused";

/** How soon a due job that JOBS refused is tried again: late, never lost. */
export const REFUSED_RETRY_MS = 1_000;

/**
 * One delivery of a scheduled job from the `scheduler` consumer (docs/design.md, "Scheduled jobs"):
 * 1. read the job's last event from the leader: anything but `queued` (a `canceled`, or the job
 *    already moved and started by an earlier delivery whose ack was lost) means there is nothing
 *    left to do: ack, and it never runs from here;
 * 2. if it is not due, nak it with the time left. This is decided on every delivery, never
 *    trusted to the server's timer: after a nats-server restart a delayed nak can come back up to
 *    a second early (its deadline is stored in whole seconds), and after a SIGKILL of the server
 *    right after the nak (lost before it was written) at the delivery's ack_wait;
 * 3. else move it into JOBS (its Msg-Id makes a repeat a no-op) and ack.
 * A delivery that fails half-way (NATS trouble) is left unacked: it comes back after the
 * consumer's ack_wait and starts again from step 1.
 */
export async function runScheduledDelivery(
  deps: Pick<WorkerDeps, "js" | "jsm" | "log" | "registry">,
  msg: JsMsg,
  now: () => number = Date.now,
): Promise<ScheduledOutcome> {
  const job = parseJob(msg);
  const dueMs = job?.runAt === undefined ? Number.NaN : Date.parse(job.runAt);
  if (!job || Number.isNaN(dueMs)) {
    deps.log.error({ subject: msg.subject, seq: msg.seq }, "malformed scheduled job message; terminated");
    msg.term("malformed scheduled job message");
    return "malformed";
  }
  const last = await readJobNow(deps.jsm, job.clientId, job.jobId);
  if (last && last.event.event !== "queued") {
    msg.ack();
    deps.log.debug({ jobId: job.jobId, event: last.event.event }, "scheduled job moved on; dropped");
    return "dropped";
  }
  // No event at all: the job's `queued` event has expired (a job scheduled close to
  // RESULTS_MAX_AGE). Only a stored cancel stops a scheduled job, so it still runs.
  if (!last) deps.log.warn({ jobId: job.jobId }, "scheduled job has no stored events (expired?); running it");

  const leftMs = dueMs - now();
  if (leftMs > 0) {
    msg.nak(leftMs);
    return "parked";
  }
  try {
    await moveDueJob(deps.js, job, deps.registry.laneOf(job.type));
  } catch (err) {
    if (!(err instanceof QueueFullError || err instanceof TooManyQueuedJobsError)) throw err;
    deps.log.warn({ jobId: job.jobId, code: err.code }, "JOBS refused a due scheduled job; trying again shortly");
    msg.nak(REFUSED_RETRY_MS);
    return "refused";
  }
  msg.ack();
  deps.log.debug({ jobId: job.jobId, lateMs: -leftMs }, "scheduled job due; moved to JOBS");
  return "moved";
}
