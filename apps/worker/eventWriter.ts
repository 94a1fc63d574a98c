import type { JetStreamClient } from "@nats-io/jetstream";
import type { JobError, JobEventName, JobMessage, JobProgress } from "../../libs/contracts/mod.ts";
import { appendEvent } from "../../libs/results/mod.ts";

/**
 * Writes one attempt's events for one job, in order, each fenced on the one before (the job's
 * subject is its state machine). Publishes are serialized: each needs the previous sequence.
 *
 * Progress is coalesced: at most one `progress` event per `progressIntervalMs`, carrying the latest
 * value, so a handler that reports a million times a second stores a few events, not a million.
 * The latest progress is carried into later events of the attempt (e.g. `succeeded`).
 *
 * After any failed write (fenced out, or NATS gone) the writer is broken: every later write
 * rejects with that first error, and `onBroken` is told once (the attempt aborts the handler).
 * The design: docs/design.md, "Progress", "Fencing".
 */
export class JobEventWriter {
  #js: JetStreamClient;
  #job: JobMessage;
  #attempt: number;
  #lastSeq: number;
  #intervalMs: number;
  #onBroken: (err: Error) => void;
  #chain: Promise<void> = Promise.resolve();
  #broken: Error | null = null;
  #progress: JobProgress | null = null;
  #pendingProgress: JobProgress | null = null;
  #progressTimer: NodeJS.Timeout | null = null;
  #lastProgressAt = 0;
  #closed = false;

  constructor(opts: {
    js: JetStreamClient;
    job: JobMessage;
    attempt: number;
    lastSeq: number;
    progressIntervalMs: number;
    onBroken: (err: Error) => void;
  }) {
    this.#js = opts.js;
    this.#job = opts.job;
    this.#attempt = opts.attempt;
    this.#lastSeq = opts.lastSeq;
    this.#intervalMs = opts.progressIntervalMs;
    this.#onBroken = opts.onBroken;
  }

  /** Stores an event after every earlier one; resolves with its sequence. */
  write(event: JobEventName, fields: { result?: unknown; error?: JobError | null } = {}): Promise<number> {
    if (event !== "progress") {
      // Progress not stored yet is not lost: the next event carries it (e.g. 100% on `succeeded`).
      const pending = this.#pendingProgress;
      this.#dropPendingProgress();
      if (pending) this.#chain = this.#chain.then(() => void (this.#progress = pending));
    }
    const done = this.#chain.then(async () => {
      if (this.#broken) throw this.#broken;
      try {
        this.#lastSeq = await appendEvent(
          this.#js,
          {
            jobId: this.#job.jobId,
            clientId: this.#job.clientId,
            type: this.#job.type,
            event,
            attempt: this.#attempt,
            progress: this.#progress,
            result: fields.result ?? null,
            error: fields.error ?? null,
            at: new Date().toISOString(),
          },
          this.#lastSeq,
          { webhook: this.#job.webhook ?? null },
        );
        return this.#lastSeq;
      } catch (err) {
        this.#break(err as Error);
        throw err;
      }
    });
    this.#chain = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  /** Records progress; stored now or at the end of the current coalescing interval. */
  progress(pct: number, message?: string): void {
    if (this.#closed || this.#broken) return;
    const clamped = Number.isFinite(pct) ? Math.min(100, Math.max(0, pct)) : 0;
    this.#pendingProgress = {
      pct: Math.round(clamped * 100) / 100,
      message: message === undefined ? null : String(message).slice(0, 1_000),
    };
    if (this.#progressTimer) return;
    const wait = this.#lastProgressAt + this.#intervalMs - Date.now();
    if (wait <= 0) this.#flushProgress();
    else this.#progressTimer = setTimeout(() => this.#flushProgress(), wait);
  }

  /** No more progress events after this (the terminal event or a retry is next, and carries the latest). */
  close(): void {
    this.#closed = true;
    if (this.#progressTimer) clearTimeout(this.#progressTimer);
    this.#progressTimer = null;
  }

  #flushProgress(): void {
    this.#progressTimer = null;
    const p = this.#pendingProgress;
    this.#pendingProgress = null;
    if (!p || this.#closed) return;
    this.#lastProgressAt = Date.now();
    this.#chain = this.#chain.then(() => {
      this.#progress = p;
    });
    // A failed progress write breaks the writer; the attempt learns of it through onBroken.
    this.write("progress").catch(() => undefined);
  }

  #dropPendingProgress(): void {
    if (this.#progressTimer) clearTimeout(this.#progressTimer);
    this.#progressTimer = null;
    this.#pendingProgress = null;
  }

  #break(err: Error): void {
    if (this.#broken) return;
    this.#broken = err;
    this.#dropPendingProgress();
    this.#onBroken(err);
  }
}
