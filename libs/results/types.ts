import type { JobEvent, WebhookTarget } from "../contracts/mod.ts";

/** One event as RESULTS stores it. */
export interface StoredEvent {
  /** RESULTS stream sequence: the SSE event id, and the fencing token of the job's next write. */
  seq: number;
  event: JobEvent;
  /** The job's own webhook, when it has one (header Herald-Webhook): passed on by the next writer. */
  webhook?: WebhookTarget;
}

/** One stored event as the notifier forwards it: its sequence and the envelope's JSON text (not parsed). */
export interface RawEvent {
  seq: number;
  json: string;
}

/** Where RESULTS starts and ends now. */
export interface ResultsBounds {
  first: number;
  last: number;
}

/**
 * Where a read is answered. `replica`: a direct get, answered by any replica — fast, and what the
 * status route uses, but on a cluster a replica may lag behind by a few events (still so on 2.10
 * and 2.15: right after a PubAck, 104 and 59 of 2,000 direct gets to a follower were stale; a
 * follower answers once it is 90% caught up and keeps answering when it lags again). `leader`: the
 * stream leader's message-get API — what writers use before a fenced write, and the notifier before
 * a replay, because a stale answer there would be a wrong fencing base or a skipped event.
 * The design: docs/design.md, "Leader reads".
 */
export type ReadFrom = "replica" | "leader";
