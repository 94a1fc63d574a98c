import type { JetStreamManager } from "@nats-io/jetstream";
import { JOB_INDEX_STREAM, jobIndexEntrySubject, jobIndexHeadSubject } from "../contracts/mod.ts";
import type { JobIndexEntry, JobIndexHead } from "./types.ts";

// Reads of JOBINDEX go to the stream leader (the message-get API), never to a replica: a head
// that lags would hide the newest jobs, and an entry missing on a lagging replica would be
// skipped as a gap for good, the cursor moving past it (docs/design.md, "Leader reads").

/** The client's head: its newest ordinal (0 when it has no job indexed) and the sequence a writer fences on. */
export async function readJobIndexHead(
  jsm: JetStreamManager,
  clientId: string,
): Promise<{ head: JobIndexHead; seq: number } | null> {
  const m = await jsm.streams.getMessage(JOB_INDEX_STREAM, { last_by_subj: jobIndexHeadSubject(clientId) });
  return m ? { head: m.json<JobIndexHead>(), seq: m.seq } : null;
}

/** The client's `ordinal`-th job, or null: never written (a gap), or expired. */
export async function readJobIndexEntry(
  jsm: JetStreamManager,
  clientId: string,
  ordinal: number,
): Promise<JobIndexEntry | null> {
  const m = await jsm.streams.getMessage(JOB_INDEX_STREAM, { last_by_subj: jobIndexEntrySubject(clientId, ordinal) });
  return m ? m.json<JobIndexEntry>() : null;
}
