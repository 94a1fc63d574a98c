import type { JsMsg } from "@nats-io/jetstream";
import { isTerminal, type JobError, type JobMessage } from "../../libs/contracts/mod.ts";
import { PermanentJobError, type JobAbortReason, type JobType } from "../../libs/jobs/mod.ts";
import { isFencedOut, readJobNow } from "../../libs/results/mod.ts";
import type { WorkerDeps } from "./deps.ts";
import { JobEventWriter } from "./eventWriter.ts";
import { watchForCancel, type CancelWatch } from "./watchForCancel.ts";
import { keepDeadLetter } from "./deadLetter.ts";
import { recordJobEnd } from "./jobMetrics.ts";
import { toJobError } from "./jobError.ts";
import type { DeliveryOutcome, HandlerRun, LastEvent } from "./types.ts";
import { AttemptTimedOutError, attemptTimeLimitMs } from "./timeLimit.ts";

/**
 * One attempt at a job, from its first event to the settling of its JOBS message. It owns its
 * event writer (each event fenced on the one before), its AbortController (the handler's signal),
 * its cancel watch, its keep-alive (in-progress acks), its time limit and its finish (terminal
 * event, dead letter, ack or nak). Use: `begin()`, `runHandler()`, `settle()`; or, when `begin()` was fenced out, `stop()`.
 * The design: docs/design.md, "Attempts", "Fencing".
 */
export class Attempt {
  /** 1 for the first attempt: counted from the job's events (see the constructor). */
  readonly number: number;
  readonly log: WorkerDeps["log"];
  #deps: WorkerDeps;
  #msg: JsMsg;
  #job: JobMessage;
  #shutdown: AbortSignal;
  #aborter = new AbortController();
  #writer: JobEventWriter;
  #jobType: JobType | undefined;
  /** Why this attempt cannot run (its `failed` is its first event), or null. */
  #cannotRun: JobError | null;
  #cancelWatch: CancelWatch | null = null;
  #keepAlive: NodeJS.Timeout | null = null;
  #onShutdown = () => this.#abort("shutdown");
  #startedAt = Date.now();
  /** Storing `started` failed for another reason than a fence (NATS trouble): the attempt is over. */
  #interrupted = false;
  /** How long the handler may run (ms), or null for no limit (docs/design.md, "Attempts"). */
  #timeLimitMs: number | null = null;

  constructor(deps: WorkerDeps, msg: JsMsg, job: JobMessage, last: LastEvent | null, shutdown: AbortSignal) {
    this.#deps = deps;
    this.#msg = msg;
    this.#job = job;
    this.#shutdown = shutdown;
    // Attempts are counted from the job's own events, not from the server's delivery count: that
    // count also moves for deliveries that never ran (a worker that died before `started`, a pull
    // that expired). Before 2.10.14 it could even go backwards for a nak'ed message handed to an
    // expired pull request; the floor has that fixed, but a delivery that never ran still counts.
    // An attempt is one that stored `started`; this is the next one.
    this.number = last && last.event !== "queued" ? last.attempt + 1 : 1;
    this.log = deps.log.child({
      jobId: job.jobId,
      clientId: job.clientId,
      type: job.type,
      attempt: this.number,
      reqId: job.requestId,
    });
    this.#writer = new JobEventWriter({
      js: deps.js,
      job,
      // Past the last attempt nothing runs; the `failed` event (and the dead letter) then name the
      // last attempt made.
      attempt: this.#attemptOfRecord,
      lastSeq: last?.seq ?? 0,
      progressIntervalMs: deps.progressIntervalMs,
      onBroken: (err) => {
        if (!isFencedOut(err)) return this.#abort("shutdown");
        // Fenced out by a cancel (before the cancel watch started) or by a newer attempt: the
        // handler is told which.
        readJobNow(deps.jsm, job.clientId, job.jobId).then(
          (now) => this.#abort(now?.event.event === "canceled" ? "canceled" : "superseded"),
          () => this.#abort("superseded"),
        );
      },
    });
    this.#jobType = deps.registry.get(job.type);
    this.#cannotRun = this.#whyItCannotRun();
    if (this.#jobType) this.#timeLimitMs = attemptTimeLimitMs(job, deps.registry.timeoutMs(this.#jobType));
  }

  get #attemptOfRecord(): number {
    return Math.min(this.number, this.#deps.maxAttempts);
  }

  /**
   * Fence/start: stores the attempt's first event, fenced on the job's last one: `started`, or
   * `failed` at once when it cannot run (unknown type, invalid payload, past its last attempt).
   * False when another writer came first and nothing was stored (a cancel, a newer attempt, or a
   * first delivery's `queued` hint that is out of date). Any other failure to store `started`
   * aborts the attempt as "shutdown": `settle()` then hands the job back.
   */
  async begin(): Promise<boolean> {
    if (this.#cannotRun) {
      this.#writer.close();
      try {
        await this.#writer.write("failed", { error: this.#cannotRun });
        return true;
      } catch (err) {
        if (isFencedOut(err)) return false;
        throw err;
      }
    }
    // A cancel stored by the API aborts the handler (see watchForCancel: from a few hundred ms in;
    // before that, the fence on the job's next write stops it).
    this.#cancelWatch = watchForCancel(this.#deps, this.#job, () => this.#abort("canceled"));
    this.#shutdown.addEventListener("abort", this.#onShutdown, { once: true });
    this.#keepAlive = setInterval(() => this.#msg.working(), Math.max(250, Math.floor(this.#deps.ackWaitMs / 3)));
    try {
      await this.#writer.write("started");
    } catch (err) {
      if (isFencedOut(err)) {
        this.#end();
        return false;
      }
      // The writer is broken and has aborted the attempt ("shutdown"): settle() hands it back.
      this.#interrupted = true;
      return true;
    }
    this.#startedAt = Date.now();
    this.log.info("job started");
    return true;
  }

  /**
   * Runs the handler, once `begin()` stored `started` (not for an attempt that cannot run or was
   * interrupted). Never throws: what the handler threw is in the answer, for `settle()`.
   * With a time limit it answers at the limit at the latest: the handler's signal fires with reason
   * `timeout`, and `settle()` stores `retrying` or `failed` without waiting for a handler that
   * ignores its signal (it would hold its slot and the job for as long as it runs). Such a handler
   * runs on in this process, but nothing it reports is stored: the attempt's writer is closed at the
   * limit, and its `retrying` or `failed` is its last write; once the next attempt has stored
   * `started`, the fence would refuse the old attempt's writes anyway.
   */
  async runHandler(): Promise<HandlerRun> {
    if (this.#cannotRun || this.#interrupted) return { ran: false };
    const handler = this.#runJobType();
    const limitMs = this.#timeLimitMs;
    if (limitMs === null) return handler;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<HandlerRun>((resolve) => {
      timer = setTimeout(() => {
        this.#timeOut();
        resolve({ ran: true, error: new AttemptTimedOutError(limitMs) });
      }, limitMs);
    });
    try {
      return await Promise.race([handler, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #runJobType(): Promise<HandlerRun> {
    try {
      const result = await this.#jobType!.run({
        jobId: this.#job.jobId,
        clientId: this.#job.clientId,
        type: this.#job.type,
        payload: this.#job.payload,
        attempt: this.number,
        maxAttempts: this.#deps.maxAttempts,
        signal: this.#aborter.signal,
        progress: (pct, message) => this.#writer.progress(pct, message),
        log: this.log,
      });
      return { ran: true, result };
    } catch (error) {
      return { ran: true, error };
    }
  }

  /**
   * Ends the attempt after its handler: stopped (canceled, superseded, shutdown), `succeeded`,
   * `failed` for good, or `retrying`. Then the keep-alive, the cancel watch and the writer stop.
   */
  async settle(run: HandlerRun): Promise<DeliveryOutcome> {
    const signal = this.#aborter.signal;
    try {
      if (this.#cannotRun) return await this.#settleStored("failed", this.#cannotRun);
      if (this.#interrupted) return await this.stop((signal.reason as JobAbortReason | undefined) ?? "shutdown");
      if (!run.ran) throw new Error("settle() without runHandler()");
      // Past its limit, whatever the handler came to (it was told: its signal fired with `timeout`).
      if (signal.reason === "timeout") return await this.#settleTimeout();
      if ("error" in run) return await this.#settleError(run.error);
      try {
        if (signal.aborted) return await this.stop(signal.reason as JobAbortReason);
        return await this.#finish("succeeded", { result: run.result === undefined ? null : run.result });
      } catch (err) {
        // Storing `succeeded` failed for another reason than a fence: the writer has aborted the attempt.
        return await this.#settleError(err);
      }
    } finally {
      this.#end();
    }
  }

  /** The handler threw (or `succeeded` could not be stored): stopped, failed for good, or retried. */
  async #settleError(err: unknown): Promise<DeliveryOutcome> {
    const signal = this.#aborter.signal;
    if (signal.aborted) return this.stop(signal.reason as JobAbortReason);
    if (isFencedOut(err)) return this.stop("superseded");
    const error = toJobError(err);
    if (err instanceof PermanentJobError || this.number >= this.#deps.maxAttempts) {
      this.log.warn({ err }, "job failed");
      return this.#finish("failed", { error });
    }
    return this.#retry(err, error);
  }

  /** The attempt ran past its time limit: a failure with code `timeout`, retried like a handler's error. */
  async #settleTimeout(): Promise<DeliveryOutcome> {
    const err = new AttemptTimedOutError(this.#timeLimitMs!);
    this.#deps.metrics.jobsTimedOut.inc({ type: this.#job.type });
    if (this.number >= this.#deps.maxAttempts) {
      this.log.warn({ limitMs: err.limitMs }, "job timed out on its last attempt; failed");
      return this.#finish("failed", { error: err.toJobError() });
    }
    return this.#retry(err, err.toJobError());
  }

  /**
   * The attempt was stopped by someone else. Canceled: the `canceled` event is stored, so the job
   * is done — ack. Superseded: a newer attempt or a cancel owns the job; its owner acks. Shutdown:
   * leave the message to be redelivered to another worker.
   */
  async stop(reason: JobAbortReason): Promise<DeliveryOutcome> {
    if (reason === "canceled") {
      this.#msg.ack();
      this.log.info("job canceled while running; acked");
      return "canceled";
    }
    if (reason === "shutdown") {
      // Shutting down, or NATS failed under us: hand the job back for another attempt.
      this.#msg.nak();
      this.log.info("attempt interrupted; job handed back");
      return "shutdown";
    }
    // Fenced out. If the job has ended (a cancel won the race with our write), it is done: ack.
    // Otherwise a newer attempt owns it and will ack it; acking here could lose it if that attempt crashed.
    const now = await readJobNow(this.#deps.jsm, this.#job.clientId, this.#job.jobId);
    if (now && isTerminal(now.event.event)) {
      this.#msg.ack();
      this.log.info("job ended by another writer; acked");
      return "already-ended";
    }
    this.log.info("a newer attempt owns this job now; this one stops");
    return "superseded";
  }

  #whyItCannotRun(): JobError | null {
    const job = this.#job;
    if (!this.#jobType)
      return { code: "unknown_job_type", message: `no worker handles job type ${JSON.stringify(job.type)}` };
    const invalid = this.#deps.registry.validate(this.#jobType, job.payload);
    if (invalid) return { code: "invalid_payload", message: invalid };
    if (this.number > this.#deps.maxAttempts) {
      return {
        code: "max_attempts",
        message: `gave up after ${this.#deps.maxAttempts} attempts; the last one did not finish (worker crashed or timed out)`,
      };
    }
    return null;
  }

  /** Stores the terminal event, then settles. A duplicate/fenced terminal means the job ended elsewhere. */
  async #finish(
    event: "succeeded" | "failed",
    fields: { result?: unknown; error?: JobError },
  ): Promise<DeliveryOutcome> {
    this.#writer.close();
    try {
      await this.#writer.write(event, fields);
    } catch (err) {
      if (isFencedOut(err)) return this.stop("superseded");
      throw err;
    }
    return this.#settleStored(event, fields.error ?? null);
  }

  /** The terminal event is stored: keep a failure's dead letter, ack, count. */
  async #settleStored(event: "succeeded" | "failed", error: JobError | null): Promise<DeliveryOutcome> {
    // Only once `failed` is stored: a cancel that fenced it out leaves the job canceled, and a dead
    // letter for it would run it again when resubmitted.
    if (event === "failed") await keepDeadLetter(this.#deps.js, this.#job, this.#attemptOfRecord, error!);
    this.#msg.ack();
    recordJobEnd(this.#deps.metrics, this.#job, event, this.#startedAt);
    this.log.info({ event, error: error ?? undefined }, `job ${event}`);
    return event;
  }

  /** Stores `retrying` and hands the job back with the backoff delay for the next attempt. */
  async #retry(err: unknown, error: JobError): Promise<DeliveryOutcome> {
    const backoff = this.#deps.retryBackoffMs;
    const delay = backoff[Math.min(this.number, backoff.length) - 1] ?? 1_000;
    this.#writer.close();
    try {
      await this.#writer.write("retrying", { error });
    } catch (writeErr) {
      if (isFencedOut(writeErr)) return await this.stop("superseded");
      throw writeErr;
    }
    this.#msg.nak(delay);
    this.log.warn({ err, retryInMs: delay }, "job attempt failed; will retry");
    return "retrying";
  }

  /**
   * The limit has passed. Unless the attempt was stopped already (canceled, superseded, shutdown:
   * that reason stands), the handler is told `timeout`, and from now on nothing it reports is
   * stored (the progress it reported last rides on the `retrying` or `failed` event).
   */
  #timeOut(): void {
    if (this.#aborter.signal.aborted) return;
    this.#writer.close();
    this.#abort("timeout");
  }

  #abort(reason: JobAbortReason): void {
    if (!this.#aborter.signal.aborted) this.#aborter.abort(reason);
  }

  /** Stops the keep-alive, the cancel watch and the shutdown listener; no more progress events. */
  #end(): void {
    if (this.#keepAlive) clearInterval(this.#keepAlive);
    this.#keepAlive = null;
    this.#shutdown.removeEventListener("abort", this.#onShutdown);
    this.#cancelWatch?.stop();
    this.#writer.close();
  }
}
