import { ConflictError, isTerminal, NotFoundError, UnavailableError, type JobEvent } from "../../libs/contracts/mod.ts";
import { appendEvent, isFencedOut, readFenceBase, readFirstEvent } from "../../libs/results/mod.ts";
import type { ApiDeps } from "./deps.ts";
import { jobState } from "./jobState.ts";
import type { JobState } from "../../libs/contracts/mod.ts";

const MAX_TRIES = 20;

/**
 * Cancels a job that has not ended: stores `canceled`, fenced on the job's last event. A queued job
 * is then acked without running when a worker takes it; a running job's worker sees the event on
 * the job's live subject and aborts its handler (ctx.signal), and its own next write is fenced out.
 * When the job moves on between our read and our write (progress), read again and retry.
 * The design: docs/design.md, "Cancel".
 */
export async function cancelJob(deps: Pick<ApiDeps, "js" | "jsm">, clientId: string, jobId: string): Promise<JobState> {
  for (let i = 0; i < MAX_TRIES; i++) {
    const last = await readFenceBase(deps.jsm, clientId, jobId);
    if (!last) throw new NotFoundError(`no job ${jobId}`, "job_not_found");
    if (isTerminal(last.event.event)) {
      throw new ConflictError(`job ${jobId} has already ended (${last.event.event})`, "job_ended");
    }
    const canceled: JobEvent = {
      ...last.event,
      event: "canceled",
      result: null,
      error: null,
      at: new Date().toISOString(),
    };
    try {
      // The job's own webhook goes on with its events (appendEvent says why).
      const seq = await appendEvent(deps.js, canceled, last.seq, { webhook: last.webhook ?? null });
      const first = await readFirstEvent(deps.jsm, clientId, jobId);
      return jobState(first, { seq, event: canceled });
    } catch (err) {
      if (isFencedOut(err)) continue;
      throw err;
    }
  }
  throw new UnavailableError(`job ${jobId} is changing too fast to cancel; try again`, "cancel_contended");
}
