import { NotFoundError } from "../../libs/contracts/mod.ts";
import { readFirstEvent, readLastEvent, type ReadFrom } from "../../libs/results/mod.ts";
import type { ApiDeps } from "./deps.ts";
import { jobState } from "./jobState.ts";
import type { JobState } from "../../libs/contracts/mod.ts";

/**
 * The job's latest state, read from RESULTS (direct get, last by subject). The subject is built from
 * the caller's own client id, so another client's job is simply not found: a 404, never a 403
 * that would confirm it exists.
 */
export async function getJobState(deps: Pick<ApiDeps, "jsm">, clientId: string, jobId: string): Promise<JobState> {
  const state = await readJobState(deps, clientId, jobId, "replica");
  if (!state) throw new NotFoundError(`no job ${jobId}`, "job_not_found");
  return state;
}

/** The job's latest state, or null if RESULTS holds no event of it; `leader` where a stale state would lose an event. */
export async function readJobState(
  deps: Pick<ApiDeps, "jsm">,
  clientId: string,
  jobId: string,
  from: ReadFrom,
): Promise<JobState | null> {
  const last = await readLastEvent(deps.jsm, clientId, jobId, from);
  if (!last) return null;
  const first = last.event.event === "queued" ? last : await readFirstEvent(deps.jsm, clientId, jobId, from);
  return jobState(first, last);
}
