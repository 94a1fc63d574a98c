import { newId } from "../../libs/ids/mod.ts";
import {
  HeraldError,
  InvalidInputError,
  isTimeLimit,
  MAX_TIME_LIMIT_MS,
  parseRequestDuration,
  type JobMessage,
} from "../../libs/contracts/mod.ts";
import type { JobRegistry, JobType } from "../../libs/jobs/mod.ts";
import type { ApiDeps } from "./deps.ts";
import { enqueueJob } from "../../libs/queue/mod.ts";
import { MAX_PAYLOAD_DEPTH, nestsDeeperThan } from "./payloadDepth.ts";
import { resolveRunAt, type ScheduleInput } from "../../libs/contracts/runAt.ts";
import { requestedWebhook } from "./requestedWebhook.ts";
import { idempotencyBucketKey, requestHash, validateIdempotencyKey, withIdempotency } from "./idempotency.ts";

export interface SubmitJobInput {
  clientId: string;
  type: unknown;
  payload: unknown;
  /** The body's `timeout`, as sent: a duration string or milliseconds; undefined for none. */
  timeout?: unknown;
  idempotencyKey?: string | undefined;
  requestId?: string;
  /** `runAt` or `delay` from the body, if the job is to run later. */
  schedule?: ScheduleInput;
  /** The body's `webhook`, as sent; undefined for none. */
  webhook?: unknown;
}

/** What submitJob stored (the route answers it as a SubmittedJob, libs/contracts). */
export interface SubmitJobResult {
  jobId: string;
  /** The `queued` event's RESULTS sequence. */
  eventId: number;
  /** True when an earlier request with the same Idempotency-Key had already created this job. */
  replayed: boolean;
  /** `scheduled` if it waits for a runAt still ahead. */
  status: "queued" | "scheduled";
}

export class PayloadTooLargeError extends HeraldError {
  constructor(limit: number) {
    super(413, "payload_too_large", `the job is larger than the ${limit}-byte limit of the job queue`);
  }
}

/** Validates a job against its type's schema and stores it (docs/design.md, "Submit"). */
export async function submitJob(deps: ApiDeps, input: SubmitJobInput): Promise<SubmitJobResult> {
  if (typeof input.type !== "string") throw new InvalidInputError("`type` must be a string", "invalid_input");
  const jobType = deps.registry.get(input.type);
  if (!jobType) {
    throw new InvalidInputError(
      `unknown job type ${JSON.stringify(input.type)}; known types: ${deps.registry.names().join(", ")}`,
      "unknown_job_type",
    );
  }
  if (nestsDeeperThan(input.payload, MAX_PAYLOAD_DEPTH)) {
    throw new InvalidInputError(`the payload nests deeper than ${MAX_PAYLOAD_DEPTH} levels`, "payload_too_deep");
  }
  const problem = deps.registry.validate(jobType, input.payload);
  if (problem) throw new InvalidInputError(`invalid payload for ${jobType.name}: ${problem}`, "invalid_payload");
  const timeoutMs = input.timeout === undefined ? undefined : requestedTimeLimit(deps.registry, jobType, input.timeout);
  if (input.idempotencyKey !== undefined) validateIdempotencyKey(input.idempotencyKey);
  const runAt = resolveRunAt(input.schedule ?? {}, Date.now(), deps.maxDelayMs);
  const status = runAt !== null && Date.parse(runAt) > Date.now() ? "scheduled" : "queued";
  const webhook = input.webhook === undefined ? undefined : await requestedWebhook(deps, input.clientId, input.webhook);

  const build = (jobId: string): JobMessage => ({
    jobId,
    clientId: input.clientId,
    type: jobType.name,
    payload: input.payload ?? null,
    submittedAt: new Date().toISOString(),
    ...(input.requestId ? { requestId: input.requestId } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(runAt !== null ? { runAt } : {}),
    ...(webhook ? { webhook } : {}),
  });

  const jobId = newId();
  // Measured on the message itself: JSON escaping can make it larger than the HTTP body was.
  // (queuedSeq is added by enqueueJob: counted at its largest.)
  const size = Buffer.byteLength(JSON.stringify({ ...build(jobId), queuedSeq: Number.MAX_SAFE_INTEGER }));
  if (size > deps.maxJobMessageBytes) throw new PayloadTooLargeError(deps.maxJobMessageBytes);

  if (input.idempotencyKey === undefined) {
    return { jobId, eventId: await enqueueJob(deps, build(jobId)), replayed: false, status };
  }
  const stored = await withIdempotency(
    deps.idempotency,
    idempotencyBucketKey(input.clientId, input.idempotencyKey),
    { jobId, requestHash: requestHash(jobType.name, input.payload, timeoutMs, webhook) },
    (id) => enqueueJob(deps, build(id)),
  );
  return { ...stored, status };
}

/**
 * A job's own time limit (the body's `timeout`) in milliseconds: a duration above 0, at most its
 * type's limit (a job may ask for less time, never more), at most 24 days for a type without one.
 */
function requestedTimeLimit(registry: JobRegistry, jobType: JobType, timeout: unknown): number {
  const ms = parseRequestDuration(timeout);
  const typeLimitMs = registry.timeoutMs(jobType);
  const refuse = (why: string) =>
    new InvalidInputError(`timeout ${JSON.stringify(timeout)}: ${why}`, "invalid_timeout");
  if (ms === null) throw refuse('expected a duration like "30s", "5m", "250ms", or a number of milliseconds');
  if (ms <= 0) throw refuse("must be above 0");
  if (typeLimitMs !== null && ms > typeLimitMs) {
    throw refuse(`above the ${typeLimitMs} ms limit of job type ${jobType.name}; a job may ask for less, not more`);
  }
  if (!isTimeLimit(ms)) throw refuse(`above the longest time limit, ${MAX_TIME_LIMIT_MS} ms (24 days)`);
  return ms;
}
