import type { Static, TSchema } from "@sinclair/typebox";
import type { Logger } from "pino";

/** What a job handler gets: its payload, its attempt, a cancel signal and a progress reporter. */
export interface JobContext<P = unknown> {
  jobId: string;
  clientId: string;
  type: string;
  payload: P;
  /** 1 for the first attempt. */
  attempt: number;
  /** The attempt after which a failure is final (JOB_MAX_DELIVER). */
  maxAttempts: number;
  /**
   * Aborted when the job is canceled, when a newer attempt of it has taken over, when the worker
   * shuts down, or when the attempt runs past its time limit. `signal.reason` says which (a
   * JobAbortReason).
   */
  signal: AbortSignal;
  /** Report progress (0-100) with an optional message. Cheap to call often: events are coalesced. */
  progress(pct: number, message?: string): void;
  log: Logger;
}

/**
 * Why a handler's signal fired. `canceled`: its client canceled the job. `superseded`: a newer
 * attempt owns the job. `shutdown`: the worker stops (or lost NATS) and hands the job back.
 * `timeout`: the attempt ran past its time limit; it ends with error code `timeout` and is retried
 * like a handler error. In every case nothing the handler does afterwards is stored.
 */
export type JobAbortReason = "canceled" | "superseded" | "shutdown" | "timeout";

/** A job type: a name (a subject token), a JSON Schema for its payload (TypeBox), and a handler. */
export interface JobType<S extends TSchema = TSchema> {
  name: string;
  /** One line shown to people (web page, CLI). */
  description?: string;
  schema: S;
  /** An example payload, shown by the web page and the docs. */
  example?: Static<S>;
  /**
   * How long one attempt may run: milliseconds (`30_000`), or a duration in the grammar of
   * herald's settings and of a job's own `timeout` (`"30s"`, `"5m"`). Past it the handler's signal
   * fires with reason `timeout`, the attempt ends with error code `timeout` and is retried like a
   * handler error. A job may ask for less, never more. None: no limit. At most 24 days.
   */
  timeout?: number | string;
  /**
   * How many jobs of this type may run at once across all workers, not per process: a whole number
   * from 1 to 10,000. JetStream itself holds the rest back (the type's own consumer, whose
   * max_ack_pending is this number), so the cap holds for any number of workers, and a type at its
   * cap does not hold back other types. A job waiting out its retry backoff keeps its place (JetStream
   * keeps it pending). None: only each worker's WORKER_CONCURRENCY bounds the type.
   */
  concurrency?: number;
  /** Returns the result (any JSON value). Throw to fail: PermanentJobError fails for good, anything else retries. */
  run(ctx: JobContext<Static<S>>): Promise<unknown>;
}

/** Declares a job type with its payload type inferred from the schema. */
export function defineJob<S extends TSchema>(def: JobType<S>): JobType<S> {
  return def;
}

/** Throw from a handler to fail the job for good, without the remaining attempts. */
export class PermanentJobError extends Error {
  readonly code: string;
  constructor(message: string, code = "permanent_failure") {
    super(message);
    this.name = "PermanentJobError";
    this.code = code;
  }
}
