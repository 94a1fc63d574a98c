import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { JOB_WEBHOOK_HEADER, jobWebhookOf, resultSubject, type JobEvent } from "../contracts/mod.ts";
import { readResultsMessage } from "./resultsMessage.ts";
import type { ReadFrom, StoredEvent } from "./types.ts";

function decodeStoredEvent(m: StoredMsg): StoredEvent {
  const webhook = jobWebhookOf(m.header?.get(JOB_WEBHOOK_HEADER));
  return { seq: m.seq, event: m.json<JobEvent>(), ...(webhook ? { webhook } : {}) };
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
