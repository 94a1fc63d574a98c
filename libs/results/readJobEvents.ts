import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { RESULTS_STREAM, resultSubject, type JobEvent } from "../contracts/mod.ts";

export interface StoredEvent {
  /** RESULTS stream sequence: the SSE event id. */
  seq: number;
  event: JobEvent;
}

/**
 * Where a read is answered. `replica`: a direct get, answered by any replica — fast, and what the
 * status route uses, but on a cluster a replica may lag behind by a few events (still so on 2.10
 * and 2.15: right after a PubAck, 104 and 59 of 2,000 direct gets to a follower were stale; a
 * follower answers once it is 90% caught up and keeps answering when it lags again). `leader`: the
 * stream leader's message-get API — what writers use before a fenced write, and the notifier before
 * a replay, because a stale answer there would be a wrong fencing base or a skipped event.
 */
export type ReadFrom = "replica" | "leader";

export function decodeStoredEvent(m: StoredMsg): StoredEvent {
  return { seq: m.seq, event: m.json<JobEvent>() };
}

/**
 * One stored message of RESULTS: the last one on a subject (`last_by_subj`), or the first on or
 * after `seq` (`next_by_subj`); wildcard subjects work on every supported server. Null if none.
 */
export async function readResultsMessage(
  jsm: JetStreamManager,
  from: ReadFrom,
  query: { last_by_subj: string } | { seq: number; next_by_subj: string },
): Promise<StoredMsg | null> {
  return from === "leader"
    ? jsm.streams.getMessage(RESULTS_STREAM, query as Parameters<JetStreamManager["streams"]["getMessage"]>[1])
    : jsm.direct.getMessage(RESULTS_STREAM, query);
}

/** The job's latest event (last by subject), or null if RESULTS holds none. */
export async function readLastEvent(
  jsm: JetStreamManager,
  clientId: string,
  jobId: string,
  from: ReadFrom = "replica",
): Promise<StoredEvent | null> {
  const m = await readResultsMessage(jsm, from, { last_by_subj: resultSubject(clientId, jobId) });
  return m ? decodeStoredEvent(m) : null;
}

/** The job's first retained event (normally `queued`), or null. */
export async function readFirstEvent(
  jsm: JetStreamManager,
  clientId: string,
  jobId: string,
  from: ReadFrom = "replica",
): Promise<StoredEvent | null> {
  const m = await readResultsMessage(jsm, from, { seq: 0, next_by_subj: resultSubject(clientId, jobId) });
  return m ? decodeStoredEvent(m) : null;
}
