import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { newId } from "../ids/mod.ts";
import {
  deadLetterMsgId,
  deadLetterSubject,
  DLQ_STREAM,
  NotFoundError,
  type DeadLetter,
  type JobMessage,
} from "../contracts/mod.ts";
import { enqueueJob } from "./enqueueJob.ts";

type Js = { js: JetStreamClient; jsm: JetStreamManager };

/** Keeps a job that failed for good in JOBS_DLQ. Idempotent per job (Msg-Id) inside the window. */
export async function publishDeadLetter(js: JetStreamClient, letter: DeadLetter): Promise<number> {
  const ack = await js.publish(deadLetterSubject(letter.job.type), JSON.stringify(letter), {
    msgID: deadLetterMsgId(letter.job.jobId),
  });
  return ack.seq;
}

export interface StoredDeadLetter extends DeadLetter {
  /** JOBS_DLQ sequence. */
  seq: number;
}

/** The dead letters, oldest first (at most `limit`). */
export async function listDeadLetters(jsm: JetStreamManager, limit = 1_000): Promise<StoredDeadLetter[]> {
  const { state } = await jsm.streams.info(DLQ_STREAM);
  const out: StoredDeadLetter[] = [];
  for (let seq = state.first_seq; seq <= state.last_seq && out.length < limit && state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(DLQ_STREAM, { seq }).catch(() => null); // deleted: skip
    if (m) out.push({ seq, ...m.json<DeadLetter>() });
  }
  return out;
}

/**
 * Runs a dead letter's job again, as a new job (a job has exactly one terminal event, so the failed
 * one stays failed): same client, type and payload, `resubmittedFrom` the failed job's id. The new
 * job's events reach the same client's streams. The dead letter is removed once the job is queued.
 */
export async function resubmitDeadLetter(deps: Js, jobId: string): Promise<{ jobId: string; eventId: number }> {
  const letter = (await listDeadLetters(deps.jsm, Number.MAX_SAFE_INTEGER)).find((l) => l.job.jobId === jobId);
  if (!letter) throw new NotFoundError(`no dead letter for job ${jobId}`, "dead_letter_not_found");
  const job: JobMessage = {
    jobId: newId(),
    clientId: letter.job.clientId,
    type: letter.job.type,
    payload: letter.job.payload,
    submittedAt: new Date().toISOString(),
    resubmittedFrom: letter.job.jobId,
  };
  const eventId = await enqueueJob(deps, job);
  await deps.jsm.streams.deleteMessage(DLQ_STREAM, letter.seq, false);
  return { jobId: job.jobId, eventId };
}
