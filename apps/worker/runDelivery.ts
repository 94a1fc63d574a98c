import type { JsMsg } from "@nats-io/jetstream";
import {
  isClientId,
  isJobId,
  isTerminal,
  type JobError,
  type JobEvent,
  type JobMessage,
} from "../../libs/contracts/mod.ts";
import { PermanentJobError, type JobAbortReason } from "../../libs/jobs/mod.ts";
import { isFencedOut, readFenceBase, readJobNow } from "../../libs/results/mod.ts";
import { publishDeadLetter } from "../../libs/queue/mod.ts";
import type { WorkerDeps } from "./deps.ts";
import { JobEventWriter } from "./eventWriter.ts";
import { watchForCancel } from "./watchForCancel.ts";

export type DeliveryOutcome =
  | "succeeded"
  | "failed"
  | "retrying"
  | "canceled"
  | "already-ended"
  | "superseded"
  | "malformed"
  | "shutdown";

/**
 * Runs one delivery of one job, from the JOBS message to its ack:
 * 1. read the job's last event; if it has ended (canceled while queued, or finished by an earlier
 *    attempt whose ack was lost), ack and stop;
 * 2. unknown type, invalid payload, or past the last attempt → `failed` for good;
 * 3. `started` (fenced), the handler with progress and in-progress acks, then `succeeded`, or
 *    `retrying` + nak with backoff, or `failed` (then kept in JOBS_DLQ); ack only after the
 *    terminal event is stored.
 * Losing the fence at any point means someone else owns the job now (a cancel, a newer attempt):
 * the handler is aborted and this delivery neither acks nor writes again.
 *
 * Step 1 is skipped on a first delivery: the job message carries its `queued` event's sequence
 * (queuedSeq), and `started` is fenced on it. If anything came after `queued` (a cancel while it
 * was queued, an earlier attempt whose delivery the server counts differently), that fence fails
 * before anything is written, and the delivery starts over from step 1. This saves one JetStream
 * round trip per job.
 */
export async function runDelivery(
  deps: WorkerDeps,
  msg: JsMsg,
  shutdown: AbortSignal,
): Promise<DeliveryOutcome> {
  const job = parseJob(msg);
  if (!job) {
    deps.log.error({ subject: msg.subject, seq: msg.seq }, "malformed job message; terminated");
    // The reason shows in the server's MSG_TERMINATED advisory. (nats-server 2.9 ignored a term
    // with a reason, and the message stayed pending: fixed in 2.10.4, below herald's floor.)
    msg.term("malformed job message");
    return "malformed";
  }
  if (Number.isSafeInteger(job.queuedSeq) && job.queuedSeq! > 0 && msg.info.deliveryCount === 1) {
    const outcome = await runAttempt(deps, msg, job, shutdown, { seq: job.queuedSeq!, event: "queued", attempt: 0 }, true);
    if (outcome !== STALE_HINT) return outcome;
    deps.log.debug({ jobId: job.jobId }, "job moved on since it was queued; reading its events");
  }
  const last = await readFenceBase(deps.jsm, job.clientId, job.jobId);
  if (last && isTerminal(last.event.event)) {
    msg.ack();
    deps.log.debug({ jobId: job.jobId, event: last.event.event }, "job already ended; acked");
    return "already-ended";
  }
  const outcome = await runAttempt(
    deps,
    msg,
    job,
    shutdown,
    last ? { seq: last.seq, event: last.event.event, attempt: last.event.attempt } : null,
    false,
  );
  return outcome === STALE_HINT ? "superseded" : outcome;
}

/** runAttempt's answer when the queuedSeq it was given is no longer the job's last event. */
const STALE_HINT = "stale-hint";
type AttemptOutcome = DeliveryOutcome | typeof STALE_HINT;

/** The job's last stored event, as far as this delivery knows: all an attempt needs of it. */
interface LastEvent {
  seq: number;
  event: JobEvent["event"];
  attempt: number;
}

/** Steps 2 and 3 of runDelivery, from the job's last event (`null`: none stored at all). */
async function runAttempt(
  deps: WorkerDeps,
  msg: JsMsg,
  job: JobMessage,
  shutdown: AbortSignal,
  last: LastEvent | null,
  fromHint: boolean,
): Promise<AttemptOutcome> {
  // Attempts are counted from the job's own events, not from the server's delivery count: that
  // count also moves for deliveries that never ran (a worker that died before `started`, a pull
  // that expired). Before 2.10.14 it could even go backwards for a nak'ed message handed to an
  // expired pull request; the floor has that fixed, but a delivery that never ran still counts.
  // An attempt is one that stored `started`; this is the next one.
  const attempt = last && last.event !== "queued" ? last.attempt + 1 : 1;
  const log = deps.log.child({ jobId: job.jobId, clientId: job.clientId, type: job.type, attempt, reqId: job.requestId });

  const aborter = new AbortController();
  const abort = (reason: JobAbortReason) => {
    if (!aborter.signal.aborted) aborter.abort(reason);
  };
  // Past the last attempt nothing runs; the `failed` event (and the dead letter) then name the
  // last attempt made.
  const attemptOfRecord = Math.min(attempt, deps.maxAttempts);
  const writer = new JobEventWriter({
    js: deps.js,
    job,
    attempt: attemptOfRecord,
    lastSeq: last?.seq ?? 0,
    progressIntervalMs: deps.progressIntervalMs,
    onBroken: (err) => {
      if (!isFencedOut(err)) return abort("shutdown");
      // Fenced out by a cancel (before the cancel watch started) or by a newer attempt: the
      // handler is told which.
      readJobNow(deps.jsm, job.clientId, job.jobId).then(
        (now) => abort(now?.event.event === "canceled" ? "canceled" : "superseded"),
        () => abort("superseded"),
      );
    },
  });

  let startedAt = Date.now();
  const ctx: Settle = {
    msg,
    log,
    observe: (outcome) => {
      deps.metrics.jobsFinished.inc({ type: job.type, outcome });
      deps.metrics.jobRunSeconds.observe({ type: job.type }, (Date.now() - startedAt) / 1000);
      const submitted = Date.parse(job.submittedAt);
      if (Number.isFinite(submitted)) deps.metrics.jobLatencySeconds.observe({ type: job.type }, (Date.now() - submitted) / 1000);
    },
    deadLetter: (error) =>
      publishDeadLetter(deps.js, { job, attempts: attemptOfRecord, error, failedAt: new Date().toISOString() }),
    // With a hint, a fence lost before anything was written means the hint was stale, not that
    // someone else owns the job: runDelivery starts over from the job's stored events.
    staleHint: () => fromHint && writer.lastSeq === last!.seq,
    isEnded: async () => {
      const now = await readJobNow(deps.jsm, job.clientId, job.jobId);
      return !!now && isTerminal(now.event.event);
    },
  };
  const fail = (error: JobError) => finish(writer, ctx, "failed", { error });

  const jobType = deps.registry.get(job.type);
  if (!jobType) return fail({ code: "unknown_job_type", message: `no worker handles job type ${JSON.stringify(job.type)}` });
  const invalid = deps.registry.validate(jobType, job.payload);
  if (invalid) return fail({ code: "invalid_payload", message: invalid });
  if (attempt > deps.maxAttempts) {
    return fail({
      code: "max_attempts",
      message: `gave up after ${deps.maxAttempts} attempts; the last one did not finish (worker crashed or timed out)`,
    });
  }

  // A cancel stored by the API aborts the handler (see watchForCancel: from a few hundred ms in;
  // before that, the fence on the job's next write stops it).
  const cancelWatch = watchForCancel(deps, job, () => abort("canceled"));
  const onShutdown = () => abort("shutdown");
  shutdown.addEventListener("abort", onShutdown, { once: true });
  const keepAlive = setInterval(() => msg.working(), Math.max(250, Math.floor(deps.ackWaitMs / 3)));

  try {
    await writer.write("started");
    startedAt = Date.now();
    log.info("job started");
    const result = await jobType.run({
      jobId: job.jobId,
      clientId: job.clientId,
      type: job.type,
      payload: job.payload,
      attempt,
      maxAttempts: deps.maxAttempts,
      signal: aborter.signal,
      progress: (pct, message) => writer.progress(pct, message),
      log,
    });
    if (aborter.signal.aborted) return await afterAbort(ctx, aborter.signal.reason as JobAbortReason);
    return await finish(writer, ctx, "succeeded", { result: result === undefined ? null : result });
  } catch (err) {
    if (aborter.signal.aborted) return await afterAbort(ctx, aborter.signal.reason as JobAbortReason);
    if (isFencedOut(err)) return await afterAbort(ctx, "superseded");
    const error = toJobError(err);
    if (err instanceof PermanentJobError || attempt >= deps.maxAttempts) {
      log.warn({ err }, "job failed");
      return await finish(writer, ctx, "failed", { error });
    }
    const delay = deps.retryBackoffMs[Math.min(attempt, deps.retryBackoffMs.length) - 1] ?? 1_000;
    writer.close();
    try {
      await writer.write("retrying", { error });
    } catch (writeErr) {
      if (isFencedOut(writeErr)) return await afterAbort(ctx, "superseded");
      throw writeErr;
    }
    msg.nak(delay);
    log.warn({ err, retryInMs: delay }, "job attempt failed; will retry");
    return "retrying";
  } finally {
    clearInterval(keepAlive);
    shutdown.removeEventListener("abort", onShutdown);
    cancelWatch.stop();
    writer.close();
  }
}

/** What settling a delivery needs: the message, a logger, and a fresh look at whether the job ended. */
interface Settle {
  msg: JsMsg;
  log: WorkerDeps["log"];
  /** Counts a job this delivery ended (metrics). */
  observe(outcome: "succeeded" | "failed"): void;
  /** Keeps the job in JOBS_DLQ (after its `failed` event was stored). */
  deadLetter(error: JobError): Promise<unknown>;
  isEnded(): Promise<boolean>;
  /** True when this attempt ran on a queuedSeq hint that turned out stale (nothing written). */
  staleHint(): boolean;
}

/** Stores the terminal event, then acks. A duplicate/fenced terminal means the job ended elsewhere. */
async function finish(
  writer: JobEventWriter,
  ctx: Settle,
  event: "succeeded" | "failed",
  fields: { result?: unknown; error?: JobError },
): Promise<AttemptOutcome> {
  writer.close();
  try {
    await writer.write(event, fields);
  } catch (err) {
    if (isFencedOut(err)) return afterAbort(ctx, "superseded");
    throw err;
  }
  // Only once `failed` is stored: a cancel that fenced it out leaves the job canceled, and a dead
  // letter for it would run it again when resubmitted.
  if (event === "failed") await ctx.deadLetter(fields.error!);
  ctx.msg.ack();
  ctx.observe(event);
  ctx.log.info({ event, error: fields.error }, `job ${event}`);
  return event;
}

/**
 * The handler was stopped by someone else. Canceled: the `canceled` event is stored, so the job is
 * done — ack. Superseded: a newer attempt or a cancel owns the job; its owner acks. Shutdown: leave
 * the message to be redelivered to another worker.
 */
async function afterAbort(ctx: Settle, reason: JobAbortReason): Promise<AttemptOutcome> {
  const { msg, log } = ctx;
  if (reason === "canceled") {
    msg.ack();
    log.info("job canceled while running; acked");
    return "canceled";
  }
  if (reason === "shutdown") {
    // Shutting down, or NATS failed under us: hand the job back for another attempt.
    msg.nak();
    log.info("attempt interrupted; job handed back");
    return "shutdown";
  }
  if (ctx.staleHint()) return STALE_HINT;
  // Fenced out. If the job has ended (a cancel won the race with our write), it is done: ack.
  // Otherwise a newer attempt owns it and will ack it; acking here could lose it if that attempt crashed.
  if (await ctx.isEnded()) {
    msg.ack();
    log.info("job ended by another writer; acked");
    return "already-ended";
  }
  log.info("a newer attempt owns this job now; this one stops");
  return "superseded";
}

function toJobError(err: unknown): JobError {
  if (err instanceof PermanentJobError) return { code: err.code, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: "handler_error", message: message.slice(0, 4_000) };
}

function parseJob(msg: JsMsg): JobMessage | null {
  try {
    const job = msg.json<JobMessage>();
    if (!job || typeof job !== "object") return null;
    if (!isJobId(job.jobId) || !isClientId(job.clientId) || typeof job.type !== "string") return null;
    return job;
  } catch {
    return null;
  }
}
