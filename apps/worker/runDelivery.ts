import type { JsMsg } from "@nats-io/jetstream";
import { isTerminal, type JobMessage } from "../../libs/contracts/mod.ts";
import { readFenceBase } from "../../libs/results/mod.ts";
import type { WorkerDeps } from "./deps.ts";
import { Attempt } from "./attempt.ts";
import type { DeliveryOutcome, LastEvent } from "./types.ts";
import { parseJob } from "./parseJob.ts";
import { keepDeadLetter } from "./deadLetter.ts";

/**
 * Runs one delivery of one job, from the JOBS message to its ack:
 * 1. parse the job; a message that is not one is terminated;
 * 2. fence/start: read the job's last event; if it has ended (canceled while queued, or finished
 *    by an earlier attempt whose ack or dead letter was lost), keep a `failed` job's dead letter,
 *    ack and stop; else store the attempt's first event
 *    fenced on it: `started`, or `failed` for good (unknown type, invalid payload, past the last
 *    attempt);
 * 3. run the handler, with progress and in-progress acks;
 * 4. settle: `succeeded`, or `retrying` + nak with backoff, or `failed` (then kept in JOBS_DLQ);
 *    ack only after the terminal event is stored.
 * Losing the fence at any point means someone else owns the job now (a cancel, a newer attempt):
 * the handler is aborted and this delivery neither acks nor writes again.
 *
 * Step 2's read is skipped on a first delivery: the job message carries its `queued` event's
 * sequence (queuedSeq), and the first event is fenced on it. If anything came after `queued` (a
 * cancel while it was queued, an earlier attempt whose delivery the server counts differently),
 * that fence fails before anything is written, and step 2 starts over with the read. This saves
 * one JetStream round trip per job.
 * The design: docs/design.md, "Delivery".
 */
export async function runDelivery(deps: WorkerDeps, msg: JsMsg, shutdown: AbortSignal): Promise<DeliveryOutcome> {
  const job = parseJob(msg);
  if (!job) return terminateMalformed(deps, msg);
  const attempt = await beginAttempt(deps, msg, job, shutdown);
  if (!(attempt instanceof Attempt)) return attempt;
  const run = await attempt.runHandler();
  return attempt.settle(run);
}

/** Step 1's refusal: a message that is not a job is never redelivered. */
function terminateMalformed(deps: WorkerDeps, msg: JsMsg): DeliveryOutcome {
  deps.log.error({ subject: msg.subject, seq: msg.seq }, "malformed job message; terminated");
  // The reason shows in the server's MSG_TERMINATED advisory. (nats-server 2.9 ignored a term
  // with a reason, and the message stayed pending: fixed in 2.10.4, below herald's floor.)
  msg.term("malformed job message");
  return "malformed";
}

/** Step 2: an Attempt whose first event is stored, or how the delivery ended without one. */
async function beginAttempt(
  deps: WorkerDeps,
  msg: JsMsg,
  job: JobMessage,
  shutdown: AbortSignal,
): Promise<Attempt | DeliveryOutcome> {
  const queued = queuedEventOf(job, msg);
  if (queued) {
    const attempt = new Attempt(deps, msg, job, queued, shutdown);
    if (await attempt.begin()) return attempt;
    deps.log.debug({ jobId: job.jobId }, "job moved on since it was queued; reading its events");
  }
  const last = await readFenceBase(deps.jsm, job.clientId, job.jobId);
  if (last && isTerminal(last.event.event)) {
    // A job that failed for good keeps its dead letter even if the attempt that stored `failed`
    // could not store the letter (NATS trouble between the two writes; it then left the message
    // unacked). The letter's Msg-Id makes this a no-op when the first one was stored within JOBS_DLQ's
    // 2-minute duplicate window; this redelivery comes after JOB_ACK_WAIT (30 s by default).
    if (last.event.event === "failed" && last.event.error) {
      await keepDeadLetter(deps.js, job, last.event.attempt, last.event.error);
    }
    msg.ack();
    deps.log.debug({ jobId: job.jobId, event: last.event.event }, "job already ended; acked");
    return "already-ended";
  }
  const attempt = new Attempt(
    deps,
    msg,
    job,
    last ? { seq: last.seq, event: last.event.event, attempt: last.event.attempt } : null,
    shutdown,
  );
  return (await attempt.begin()) ? attempt : attempt.stop("superseded");
}

/** On a first delivery, the job's `queued` event as its message names it (queuedSeq); else null. */
function queuedEventOf(job: JobMessage, msg: JsMsg): LastEvent | null {
  if (!Number.isSafeInteger(job.queuedSeq) || job.queuedSeq! <= 0 || msg.info.deliveryCount !== 1) return null;
  return { seq: job.queuedSeq!, event: "queued", attempt: 0 };
}
