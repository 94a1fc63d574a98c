/** The event envelope stored in RESULTS and sent over SSE (docs/design.md, "The event envelope"). */
import type { JobError, JobProgress } from "./schemas.ts";

export const JOB_EVENTS = ["queued", "started", "progress", "retrying", "succeeded", "failed", "canceled"] as const;
export type JobEventName = (typeof JOB_EVENTS)[number];

export const TERMINAL_EVENTS: ReadonlySet<JobEventName> = new Set(["succeeded", "failed", "canceled"]);

export function isTerminal(event: JobEventName): boolean {
  return TERMINAL_EVENTS.has(event);
}

/** The name a job event is sent under on an event stream (SSE `event:`): `job.<name>`. */
export function sseEventName(event: JobEventName): `job.${JobEventName}` {
  return `job.${event}`;
}

export interface JobEvent {
  jobId: string;
  clientId: string;
  type: string;
  event: JobEventName;
  /** Delivery attempt (1-based); 0 for `queued` and for a cancel before any attempt. */
  attempt: number;
  /** The latest progress of the current attempt (carried into later events), or null. */
  progress: JobProgress | null;
  result: unknown;
  error: JobError | null;
  /** ISO-8601 time the event was created. */
  at: string;
  /**
   * Only on the `queued` event of a job submitted with `runAt` or `delay`: when it is due (ISO-8601,
   * ms). Absent on every other event.
   */
  runAt?: string;
}

/**
 * An event's JSON as herald stores it: the envelope's keys always in this order, so that a reader
 * can tell the event's name from the start of the text (eventNameOf) without parsing it all.
 */
export function encodeEvent(e: JobEvent): string {
  return JSON.stringify({
    jobId: e.jobId,
    clientId: e.clientId,
    type: e.type,
    event: e.event,
    attempt: e.attempt,
    progress: e.progress,
    result: e.result,
    error: e.error,
    at: e.at,
    // Last, and only when set: every other event's text is as it always was.
    ...(e.runAt !== undefined ? { runAt: e.runAt } : {}),
  });
}

// The start of encodeEvent's text. The three values before `event` cannot hold a quote or a
// backslash (ids and type names: see ids.ts), so a match is exactly that prefix, never text inside
// a value.
const ENCODED_PREFIX = /^\{"jobId":"[^"\\]*","clientId":"[^"\\]*","type":"[^"\\]*","event":"([a-z]+)"/;
const EVENT_NAMES: ReadonlySet<string> = new Set(JOB_EVENTS);

/**
 * The event name of a stored envelope's JSON text, or null if it is not an envelope. Reads the
 * start of text written by encodeEvent (a replay of 100,000 events spent a third of its CPU in
 * JSON.parse for this one field); anything else is parsed in full.
 */
export function eventNameOf(json: string): JobEventName | null {
  const m = ENCODED_PREFIX.exec(json);
  if (m && EVENT_NAMES.has(m[1]!)) return m[1] as JobEventName;
  try {
    const event = (JSON.parse(json) as { event?: unknown } | null)?.event;
    return typeof event === "string" && EVENT_NAMES.has(event) ? (event as JobEventName) : null;
  } catch {
    return null;
  }
}
