import type { GapNotice, JobEvent, JobEventName, JobStatus } from "../contracts/mod.ts";

export interface ClientOptions {
  /** herald's base URL, e.g. `http://127.0.0.1:3000` (in a page served by herald: `location.origin`). */
  url: string;
  /** The client's token. Without it, requests rely on the `herald_token` cookie (same-origin pages). */
  token?: string;
  /** A fetch to use instead of the global one (tests, proxies). */
  fetch?: typeof fetch;
}

/** One item of an event stream: an event, a gap notice, or a change of the connection's state. */
export type StreamItem =
  | { type: "event"; id: number; event: JobEvent }
  | ({ type: "gap" } & GapNotice)
  | { type: "connection"; state: ConnectionState; error?: Error; retryInMs?: number };

/**
 * `connecting` (first time), `open`, `reconnecting` (after a drop; resumes from the last id),
 * `resumed` (open again after a drop).
 */
export type ConnectionState = "connecting" | "open" | "reconnecting" | "resumed";

export interface EventsOptions {
  /** Where to start: `earliest` (all retained), an event id to resume after, or (default) live only. */
  since?: "earliest" | number;
  /** Only this job's events, from its first; the stream ends after its terminal event. */
  job?: string;
  /** Ends the stream. */
  signal?: AbortSignal;
  /** Reconnect backoff after a refused or failed connection (ms): initial, doubling up to max. */
  backoff?: { initialMs?: number; maxMs?: number };
}

export interface SubmitOptions {
  /** The same key from the same client returns the same job (safe retries). */
  idempotencyKey?: string;
  /**
   * How long each attempt may run: `"30s"`, `"5m"`, `"250ms"`, or milliseconds; at most the type's
   * own limit (`timeoutMs` in GET /v1/job-types), else the API answers 400 `invalid_timeout`.
   */
  timeout?: string | number;
  /** Run no earlier than this time (an RFC 3339 string or a Date); not with `delay`. */
  runAt?: string | Date;
  /** Run after this long: `"30s"`, `"5m"`, or milliseconds; not with `runAt`. */
  delay?: string | number;
  /**
   * The job's own webhook: its events (by default the terminal ones) are POSTed to `url`, signed
   * with the client's secret (`rotateWebhookSecret()` first).
   */
  webhook?: { url: string; events?: JobEventName[] };
}

export interface WaitOptions {
  /**
   * Called with each progress event while the job runs. Only over an event stream: where herald
   * serves none and `wait` asks over plain HTTP instead, it learns only of the job's end.
   */
  onProgress?: (event: JobEvent) => void;
  signal?: AbortSignal;
}

export interface StatusOptions {
  /**
   * Seconds (0 to 60) the server may hold the request until the job has ended: it answers as
   * soon as it has, else with the state when the wait runs out.
   */
  wait?: number;
  signal?: AbortSignal;
}

export interface WaitForEndOptions {
  /** Answer with the state as it is after this long, ended or not (default: no limit). */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface JobsOptions {
  /** Only jobs in these statuses. */
  status?: JobStatus | JobStatus[];
  /** Only jobs of this type. */
  type?: string;
  /** At most this many (1 to 200; the server's default is 50). A filtered page may hold fewer. */
  limit?: number;
  /** The `nextCursor` of the page before: the jobs older than it. */
  cursor?: string;
  signal?: AbortSignal;
}
