import type { JsMsg } from "@nats-io/jetstream";
import { isClientId, isJobId, type JobMessage } from "../../libs/contracts/mod.ts";

/** The job a JOBS message carries, or null if it is not one (not JSON, or no valid ids and type). */
export function parseJob(msg: JsMsg): JobMessage | null {
  try {
    const job = msg.json<JobMessage>();
    if (!job || typeof job !== "object") return null;
    if (!isJobId(job.jobId) || !isClientId(job.clientId) || typeof job.type !== "string") return null;
    return job;
  } catch {
    return null;
  }
}
