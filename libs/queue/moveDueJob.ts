import { jobMsgId, jobSubject, type JobLane, type JobMessage } from "../contracts/mod.ts";
import type { JetStreamClient } from "@nats-io/jetstream";
import { jobsRefusal } from "./enqueueJob.ts";

/**
 * Moves a scheduled job that is due from SCHEDULED into JOBS, in the lane its type has now (a cap
 * added or removed while it waited applies to it): the message as SCHEDULED held it
 * (with its `queuedSeq`, so the worker's first attempt fences on the `queued` event), under the
 * job's JOBS Msg-Id. A scheduler that publishes it again (it died before acking its SCHEDULED
 * message, or two got it) queues it once inside JOBS' 2-minute duplicate window; past that, the
 * scheduler finds the job moved on and drops the message (docs/design.md, "Scheduled jobs").
 *
 * Throws QueueFullError or TooManyQueuedJobsError when JOBS refuses it for certain; anything else
 * (a timeout) as it came: the job may be queued after all, and the Msg-Id covers a retry.
 */
export async function moveDueJob(js: JetStreamClient, job: JobMessage, lane: JobLane): Promise<void> {
  try {
    await js.publish(jobSubject(job.type, job.clientId, lane), JSON.stringify(job), { msgID: jobMsgId(job.jobId) });
  } catch (err) {
    throw jobsRefusal(err) ?? err;
  }
}
