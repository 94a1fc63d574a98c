import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { jobIndexEntrySubject, jobIndexHeadSubject, jobIndexMsgId, UnavailableError } from "../contracts/mod.ts";
import { isJetStreamError, JetStreamErrorCode } from "../nats/mod.ts";
import { readJobIndexHead } from "./readJobIndex.ts";
import type { JobIndexEntry, JobIndexHead } from "./types.ts";

/** Submits of one client that race for its next ordinal: past this many lost CAS in a row, give up (503). */
const MAX_HEAD_RACES = 50;

/** Another submit of the same client kept winning the head: the job was not indexed (the caller answers 503). */
export class JobIndexContendedError extends UnavailableError {
  constructor() {
    super("too many concurrent submits from this client; try again", "submit_contended");
  }
}

/**
 * Gives a client's job the client's next ordinal in JOBINDEX, so that GET /v1/jobs can read the
 * client's jobs newest first by literal subjects: the head `jidx.<c>.head` is advanced from n to
 * n+1 with a compare-and-set on its last sequence (two submits never get one ordinal), then the
 * entry `jidx.<c>.<n+1>` is stored. A crash between the two leaves ordinal n+1 empty: a gap that
 * readers skip. Returns the job's ordinal.
 *
 * Idempotent for one job, as enqueueJob is: a job that already holds the head (the last one
 * indexed) is not indexed again, and the entry's Msg-Id (`<jobId>.jidx`) drops a second entry
 * inside the 2-minute duplicate window (the new ordinal is then a gap). Past the window, a retry of
 * a submit that died after indexing, with other jobs submitted since, indexes the job a second
 * time; a list shows it once per page (docs/design.md, "Listing jobs").
 */
export async function indexJob(
  deps: { js: JetStreamClient; jsm: JetStreamManager },
  clientId: string,
  entry: JobIndexEntry,
): Promise<number> {
  const headSubject = jobIndexHeadSubject(clientId);
  for (let race = 0; race < MAX_HEAD_RACES; race++) {
    const current = await readJobIndexHead(deps.jsm, clientId);
    if (current?.head.jobId === entry.jobId) {
      // Indexed already, and nothing since: make sure its entry is stored (a crash may have come
      // between the head and the entry; inside the window the Msg-Id makes this a no-op).
      await storeEntry(deps.js, clientId, current.head.n, entry);
      return current.head.n;
    }
    const next: JobIndexHead = { n: (current?.head.n ?? 0) + 1, jobId: entry.jobId };
    try {
      await deps.js.publish(headSubject, JSON.stringify(next), { expect: { lastSubjectSequence: current?.seq ?? 0 } });
    } catch (err) {
      if (isJetStreamError(err, JetStreamErrorCode.WRONG_LAST_SEQUENCE)) continue; // another submit took it
      throw err;
    }
    await storeEntry(deps.js, clientId, next.n, entry);
    return next.n;
  }
  throw new JobIndexContendedError();
}

async function storeEntry(js: JetStreamClient, clientId: string, ordinal: number, entry: JobIndexEntry): Promise<void> {
  const value: JobIndexEntry = { jobId: entry.jobId, type: entry.type, createdAt: entry.createdAt };
  await js.publish(jobIndexEntrySubject(clientId, ordinal), JSON.stringify(value), {
    msgID: jobIndexMsgId(entry.jobId),
  });
}
