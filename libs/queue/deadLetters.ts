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
import { enqueueJob, type EnqueueDeps } from "./enqueueJob.ts";
import { readStoredMessages } from "../nats/mod.ts";

/** Resubmitting stores a job: JetStream, and the job types' lanes (enqueueJob). */
type ResubmitDeps = EnqueueDeps;

/** Every subject of JOBS_DLQ (`dlq.<type>`). */
const ALL_DEAD_LETTERS = "dlq.>";

/**
 * Keeps a job that failed for good in JOBS_DLQ. Idempotent per job (Msg-Id) inside the window.
 * The design: docs/design.md, "Dead letters".
 */
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

/**
 * The dead letters stored when the read began, oldest first, each read once. `next_by_subj` steps
 * over the gaps that resubmitted (deleted) letters leave, and letters stored after the read began
 * (a resubmitted job that failed again) are not read: a resubmit-all ends.
 */
export async function* readDeadLetters(jsm: JetStreamManager): AsyncGenerator<StoredDeadLetter> {
  for await (const m of readStoredMessages(jsm, DLQ_STREAM, ALL_DEAD_LETTERS))
    yield { seq: m.seq, ...m.json<DeadLetter>() };
}

/** The dead letters, oldest first (at most `limit`). */
export async function listDeadLetters(jsm: JetStreamManager, limit = 1_000): Promise<StoredDeadLetter[]> {
  const out: StoredDeadLetter[] = [];
  if (limit <= 0) return out;
  for await (const letter of readDeadLetters(jsm)) {
    out.push(letter);
    if (out.length >= limit) break;
  }
  return out;
}

/**
 * Runs a dead letter's job again, as a new job (a job has exactly one terminal event, so the failed
 * one stays failed): same client, type and payload, `resubmittedFrom` the failed job's id. The new
 * job's events reach the same client's streams. The dead letter is removed once the job is queued.
 */
export async function resubmitDeadLetter(
  deps: ResubmitDeps,
  jobId: string,
): Promise<{ jobId: string; eventId: number }> {
  for await (const letter of readDeadLetters(deps.jsm)) {
    if (letter.job.jobId === jobId) return resubmit(deps, letter);
  }
  throw deadLetterNotFound(jobId);
}

/** What became of one dead letter in resubmitDeadLetters: its new job, or why not. */
export type ResubmitOutcome = { from: string; jobId: string; eventId: number } | { from: string; error: Error };

/**
 * Resubmits the dead letters of `jobIds` (in that order), or all of them (oldest first), reading
 * JOBS_DLQ once. Yields each outcome as it happens; an id without a dead letter is an outcome with
 * a NotFoundError, not the end.
 */
export async function* resubmitDeadLetters(deps: ResubmitDeps, jobIds?: string[]): AsyncGenerator<ResubmitOutcome> {
  if (!jobIds) {
    // A job can have two letters: its attempt's, and the one its redelivery keeps again when the
    // first seemed lost but was stored, past JOBS_DLQ's duplicate window (docs/design.md, "Dead
    // letters"). Resubmitted once; the second letter goes.
    const resubmitted = new Set<string>();
    for await (const letter of readDeadLetters(deps.jsm)) {
      if (resubmitted.has(letter.job.jobId)) {
        await deps.jsm.streams.deleteMessage(DLQ_STREAM, letter.seq, false);
        continue;
      }
      resubmitted.add(letter.job.jobId);
      yield await resubmitOutcome(deps, letter.job.jobId, letter);
    }
    return;
  }
  const wanted = new Set(jobIds);
  const found = new Map<string, StoredDeadLetter>();
  for await (const letter of readDeadLetters(deps.jsm)) {
    if (wanted.has(letter.job.jobId)) found.set(letter.job.jobId, letter);
    if (found.size === wanted.size) break;
  }
  for (const id of jobIds) {
    const letter = found.get(id);
    found.delete(id); // an id named twice is resubmitted once
    yield await resubmitOutcome(deps, id, letter);
  }
}

async function resubmitOutcome(
  deps: ResubmitDeps,
  from: string,
  letter: StoredDeadLetter | undefined,
): Promise<ResubmitOutcome> {
  try {
    if (!letter) throw deadLetterNotFound(from);
    return { from, ...(await resubmit(deps, letter)) };
  } catch (err) {
    return { from, error: err as Error };
  }
}

async function resubmit(deps: ResubmitDeps, letter: StoredDeadLetter): Promise<{ jobId: string; eventId: number }> {
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

function deadLetterNotFound(jobId: string): NotFoundError {
  return new NotFoundError(`no dead letter for job ${jobId}`, "dead_letter_not_found");
}
