import type { GapNotice, JobEvent } from "../contracts/mod.ts";

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
  /** Run no earlier than this time (an RFC 3339 string or a Date); not with `delay`. */
  runAt?: string | Date;
  /** Run after this long: `"30s"`, `"5m"`, or milliseconds; not with `runAt`. */
  delay?: string | number;
}

export interface WaitOptions {
  /** Called with each progress event while the job runs. */
  onProgress?: (event: JobEvent) => void;
  signal?: AbortSignal;
}
