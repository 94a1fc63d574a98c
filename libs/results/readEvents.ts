import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { RESULTS_STREAM, resultSubject, type JobEvent } from "../contracts/mod.ts";
import type { RawEvent, ReadFrom, ResultsBounds, StoredEvent } from "./types.ts";

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

function decodeStoredEvent(m: StoredMsg): StoredEvent {
  return { seq: m.seq, event: m.json<JobEvent>() };
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

/**
 * The event a writer fences its next write on: the job's last event, from the stream leader (a
 * replica may lag, and a stale base is a write refused for nothing, or one that overtakes a cancel
 * it never saw). Null if the job has no events.
 */
export function readFenceBase(jsm: JetStreamManager, clientId: string, jobId: string): Promise<StoredEvent | null> {
  return readLastEvent(jsm, clientId, jobId, "leader");
}

/**
 * The job's last event as it stands now, from the stream leader: what a writer reads after its
 * write was fenced out (who won: a cancel, or a newer attempt), or to find a cancel it may have
 * missed. Null if the job has no events.
 */
export function readJobNow(jsm: JetStreamManager, clientId: string, jobId: string): Promise<StoredEvent | null> {
  return readLastEvent(jsm, clientId, jobId, "leader");
}

/** The sequence of the last stored event matching `filter` (from the leader), or null if none. */
export async function readLastMatch(jsm: JetStreamManager, filter: string): Promise<number | null> {
  return (await readResultsMessage(jsm, "leader", { last_by_subj: filter }))?.seq ?? null;
}

/** RESULTS' first and last sequence now (the stream leader's state). */
export async function readResultsBounds(jsm: JetStreamManager): Promise<ResultsBounds> {
  const { state } = await jsm.streams.info(RESULTS_STREAM);
  return { first: Math.max(1, state.first_seq), last: state.last_seq };
}

/** The event stored at `seq`, with its subject, from the leader; null if none is (any more). */
export async function readEventAt(jsm: JetStreamManager, seq: number): Promise<(RawEvent & { subject: string }) | null> {
  const m = await jsm.streams.getMessage(RESULTS_STREAM, { seq });
  return m ? { seq: m.seq, subject: m.subject, json: m.string() } : null;
}
