import type { JetStreamManager } from "@nats-io/jetstream";
import { isTerminal, NotFoundError } from "../../libs/contracts/mod.ts";
import { readJobNow } from "../../libs/results/mod.ts";
import type { ResumeFrom } from "./lastEventId.ts";

/** What a request for one job's event stream gets: a stream, or 204 (it has seen the job's end). */
export type JobStreamStart = "open" | "end_seen";

/**
 * Reads the job's last event, from the RESULTS leader (a replica may lag, and a stale answer would
 * 404 a job that was just submitted). No event: the job
 * does not exist for this client (another client's job is looked up under this client's subject,
 * so it is a 404 too). A client resuming after the job's terminal event gets `end_seen`: the
 * route answers 204, which tells EventSource to stop reconnecting.
 */
export async function jobStreamStart(
  jsm: JetStreamManager,
  clientId: string,
  jobId: string,
  from: ResumeFrom,
): Promise<JobStreamStart> {
  const last = await readJobNow(jsm, clientId, jobId);
  if (!last) throw new NotFoundError(`no job ${jobId}`, "job_not_found");
  if (from.kind === "after" && isTerminal(last.event.event) && last.seq <= from.seq) return "end_seen";
  return "open";
}
