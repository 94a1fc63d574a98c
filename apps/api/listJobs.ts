import type { JobList, JobState } from "../../libs/contracts/mod.ts";
import { readJobIndexEntry, readJobIndexHead, type JobIndexEntry } from "../../libs/jobIndex/mod.ts";
import { readResultsBounds } from "../../libs/results/mod.ts";
import type { ApiDeps } from "./deps.ts";
import { readJobState } from "./getJobState.ts";
import { encodeCursor, type ListJobsQuery } from "./listJobsQuery.ts";

/**
 * How many index entries one page may read, per job it may hold. A filter cannot be answered from
 * the index without reading entries (and, for a status, the jobs' states) that it then drops: the
 * scan stops here and the page holds fewer jobs, with a cursor, so that a page's cost stays bounded.
 */
export const SCAN_PER_JOB = 4;

/**
 * A page of the caller's jobs, newest first (GET /v1/jobs). Its cost is a few reads per job on the
 * page (the index entry, the job's last and maybe first event, by literal subject) plus two, however
 * many jobs the client and everyone else have (docs/design.md, "Listing jobs").
 *
 * 1. `eventId`: RESULTS' last sequence, read first. A job whose `queued` is at or below it was
 *    indexed before it was read (enqueueJob indexes first), so the index read next finds it; and
 *    every event at or below it is in the state read after. So an event stream resumed from it
 *    (Last-Event-ID) delivers every event the states do not hold.
 * 2. The client's head (its newest ordinal), then its ordinals downward from the cursor, at most
 *    SCAN_PER_JOB × limit of them, in batches read in parallel: entries first (the type filter
 *    needs nothing more), then the states of those that may match.
 *
 * Every read goes to the stream leaders: a lagging replica could hide a job or an event below
 * eventId, which the resumed stream would then never deliver.
 */
export async function listJobs(deps: Pick<ApiDeps, "jsm">, clientId: string, query: ListJobsQuery): Promise<JobList> {
  const eventId = (await readResultsBounds(deps.jsm)).last;
  const newest = (await readJobIndexHead(deps.jsm, clientId))?.head.n ?? 0;
  let next = Math.min(query.before ?? newest, newest);
  const budget = SCAN_PER_JOB * query.limit;
  const jobs: JobState[] = [];
  const listed = new Set<string>();
  let scanned = 0;
  while (next >= 1 && scanned < budget && jobs.length < query.limit) {
    const size = Math.min(query.limit - jobs.length, budget - scanned, next);
    const ordinals = Array.from({ length: size }, (_, i) => next - i);
    const entries = await Promise.all(ordinals.map((n) => readJobIndexEntry(deps.jsm, clientId, n)));
    const candidates = entries.filter((e): e is JobIndexEntry => e !== null && (!query.type || e.type === query.type));
    const states = await Promise.all(candidates.map((e) => readJobState(deps, clientId, e.jobId, "leader")));
    for (const state of states) {
      // null: an entry whose job never got its `queued` event (its submit failed), or expired.
      if (!state || listed.has(state.jobId)) continue;
      if (query.statuses && !query.statuses.has(state.status)) continue;
      listed.add(state.jobId);
      jobs.push(state);
    }
    scanned += size;
    next -= size;
  }
  // Ordinals are in the order jobs were indexed, which can differ from createdAt by the time a
  // submit takes: the page itself is in createdAt order.
  jobs.sort((a, b) => (a.createdAt === b.createdAt ? cmp(b.jobId, a.jobId) : cmp(b.createdAt, a.createdAt)));
  return { jobs, nextCursor: next >= 1 ? encodeCursor(next) : null, eventId };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
