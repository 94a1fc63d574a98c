import { isClientId, isJobId, isJobTypeName } from "./ids.ts";

/**
 * Subject builders. Each validates its tokens so that no caller can build a subject that
 * matches more (or other) than it means to.
 */

function assertToken(ok: boolean, what: string, value: string): void {
  if (!ok) throw new TypeError(`invalid ${what} for a subject: ${JSON.stringify(value)}`);
}

/**
 * A job's lane in JOBS. `shared`: a type without a concurrency cap, run from the `workers` consumer.
 * `capped`: a type with one (`defineJob({ concurrency })`), run from its own `workers-<type>`
 * consumer, whose max_ack_pending is the cap. The lane is in the subject so that the two consumers'
 * filters never overlap (a work-queue stream refuses that) and never have to change when a type
 * comes or goes (docs/design.md, "Concurrency per type").
 */
export type JobLane = "shared" | "capped";

/**
 * `jobs.<type>.<clientId>` (shared lane) or `jobs.<type>.<clientId>.capped`: where a job is queued
 * in JOBS. The type comes first so that `jobs.<type>.>` is every job of a type, in both lanes; the
 * client next so that JetStream can bound each client's queued jobs of a type (max messages per
 * subject).
 */
export function jobSubject(type: string, clientId: string, lane: JobLane = "shared"): string {
  assertToken(isJobTypeName(type), "job type", type);
  assertToken(isClientId(clientId), "client id", clientId);
  return lane === "capped" ? `jobs.${type}.${clientId}.capped` : `jobs.${type}.${clientId}`;
}

/** The `workers` consumer's filter: every job in the shared lane (three tokens), of any type. */
export const SHARED_JOBS_FILTER = "jobs.*.*";

/** The filter of a capped type's consumer: its jobs in the capped lane (four tokens). */
export function cappedJobsFilter(type: string): string {
  assertToken(isJobTypeName(type), "job type", type);
  return `jobs.${type}.*.capped`;
}

/**
 * `scheduled.<type>.<clientId>`: where a job waits in SCHEDULED until it is due; the same shape as
 * its JOBS subject, so that JetStream bounds each client's scheduled jobs of one type the same way.
 */
export function scheduledSubject(type: string, clientId: string): string {
  assertToken(isJobTypeName(type), "job type", type);
  assertToken(isClientId(clientId), "client id", clientId);
  return `scheduled.${type}.${clientId}`;
}

/** `results.<clientId>.<jobId>`: every event of one job, in RESULTS. */
export function resultSubject(clientId: string, jobId: string): string {
  assertToken(isClientId(clientId), "client id", clientId);
  assertToken(isJobId(jobId), "job id", jobId);
  return `results.${clientId}.${jobId}`;
}

/** `results.<clientId>.>`: every event of one client, in RESULTS. */
export function clientResultsFilter(clientId: string): string {
  assertToken(isClientId(clientId), "client id", clientId);
  return `results.${clientId}.>`;
}

/** RESULTS republishes each event it stores on `live.<clientId>.<jobId>` (core NATS). */
export const LIVE_PREFIX = "live";

/** `live.<clientId>.<jobId>`: the core-NATS republish of one job's events. */
export function liveJobSubject(clientId: string, jobId: string): string {
  assertToken(isClientId(clientId), "client id", clientId);
  assertToken(isJobId(jobId), "job id", jobId);
  return `${LIVE_PREFIX}.${clientId}.${jobId}`;
}

/** `dlq.<type>`: a dead letter in JOBS_DLQ. */
export function deadLetterSubject(type: string): string {
  // A dead letter can be for a type no worker knows; keep the subject valid whatever it is.
  return `dlq.${isJobTypeName(type) ? type : "_unknown"}`;
}

/** Msg-Id of a job's dead letter: a redelivered failure is not kept twice. */
export function deadLetterMsgId(jobId: string): string {
  return `${jobId}.dlq`;
}

/** Msg-Id of a job's JOBS message: a retried submit inside the duplicate window is not queued twice. */
export function jobMsgId(jobId: string): string {
  return `${jobId}.job`;
}

/** Msg-Id of a job's SCHEDULED message: a retried submit inside the duplicate window does not schedule it twice. */
export function scheduledMsgId(jobId: string): string {
  return `${jobId}.scheduled`;
}

/** Msg-Id of a job's `queued` event. */
export function queuedMsgId(jobId: string): string {
  return `${jobId}.queued`;
}

/** Msg-Id shared by every terminal event of a job: a second terminal inside the window is a duplicate. */
export function terminalMsgId(jobId: string): string {
  return `${jobId}.terminal`;
}

/**
 * `jidx.<clientId>.<n>`: the client's n-th job (1, 2, …) in JOBINDEX, one message per subject. The
 * list of a client's jobs reads these literal subjects, newest first, so its cost does not grow
 * with the client's history or with other clients (docs/design.md, "Listing jobs").
 */
export function jobIndexEntrySubject(clientId: string, ordinal: number): string {
  assertToken(isClientId(clientId), "client id", clientId);
  if (!Number.isSafeInteger(ordinal) || ordinal < 1) throw new TypeError(`invalid job ordinal: ${ordinal}`);
  return `jidx.${clientId}.${ordinal}`;
}

/** `jidx.<clientId>.head`: the client's newest ordinal in JOBINDEX (its only writer CAS). */
export function jobIndexHeadSubject(clientId: string): string {
  assertToken(isClientId(clientId), "client id", clientId);
  return `jidx.${clientId}.head`;
}

/** Msg-Id of a job's JOBINDEX entry: a retried submit inside the duplicate window does not index it twice. */
export function jobIndexMsgId(jobId: string): string {
  return `${jobId}.jidx`;
}
