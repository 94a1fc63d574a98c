import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { RESULTS_STREAM, resultSubject, type JobEvent } from "../contracts/mod.ts";

export interface StoredEvent {
  /** RESULTS stream sequence: the SSE event id. */
  seq: number;
  event: JobEvent;
}

export function decodeStoredEvent(m: StoredMsg): StoredEvent {
  return { seq: m.seq, event: m.json<JobEvent>() };
}

/** The job's latest event (direct get, last by subject), or null if RESULTS holds none. */
export async function readLastEvent(jsm: JetStreamManager, clientId: string, jobId: string): Promise<StoredEvent | null> {
  const m = await jsm.direct.getMessage(RESULTS_STREAM, { last_by_subj: resultSubject(clientId, jobId) });
  return m ? decodeStoredEvent(m) : null;
}

/** The job's first retained event (normally `queued`), or null. */
export async function readFirstEvent(jsm: JetStreamManager, clientId: string, jobId: string): Promise<StoredEvent | null> {
  const m = await jsm.direct.getMessage(RESULTS_STREAM, { seq: 0, next_by_subj: resultSubject(clientId, jobId) });
  return m ? decodeStoredEvent(m) : null;
}
