import { UnavailableError, type JobState } from "../../libs/contracts/mod.ts";
import type { ApiDeps } from "./deps.ts";
import { getJobState } from "./getJobState.ts";
import { jobState } from "./jobState.ts";

/**
 * The job's state once it has ended, or after `seconds` as it is then (GET /v1/jobs/:id?wait=).
 *
 * The wait is registered before the state is read: a terminal event stored after the read reaches
 * it live, one stored before is in the read. A job that has ended (or is not the caller's: 404) is
 * answered at once. At the deadline the state is read again, since the live copy of a terminal
 * event can be missed. A client that goes away (`gone`) frees its wait at once.
 */
export async function waitForJobState(
  deps: Pick<ApiDeps, "jsm" | "waiters">,
  clientId: string,
  jobId: string,
  seconds: number,
  gone: AbortSignal,
): Promise<JobState> {
  const wait = deps.waiters.register(clientId, jobId);
  try {
    await wait.ready;
    const state = await getJobState(deps, clientId, jobId);
    if (state.finishedAt !== null) return state;
    const end = await wait.ended(seconds * 1000, gone);
    switch (end.kind) {
      case "ended":
        // The terminal event as it came live (a replica read could still lag behind it); the job
        // was created when the state read first said.
        return { ...jobState(null, end.event), createdAt: state.createdAt };
      case "gone":
        return state; // nobody reads this answer
      case "nats_down":
        throw new UnavailableError("NATS is unavailable; try again shortly", "nats_unavailable", 2);
      default:
        return await getJobState(deps, clientId, jobId);
    }
  } finally {
    wait.cancel();
  }
}
