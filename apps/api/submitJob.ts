import { newId } from "../../libs/ids/mod.ts";
import { HeraldError, InvalidInputError, type JobMessage } from "../../libs/contracts/mod.ts";
import type { ApiDeps } from "./deps.ts";
import { enqueueJob } from "../../libs/queue/mod.ts";
import { MAX_PAYLOAD_DEPTH, nestsDeeperThan } from "./payloadDepth.ts";
import { resolveRunAt, type ScheduleInput } from "../../libs/contracts/runAt.ts";
import { idempotencyBucketKey, requestHash, validateIdempotencyKey, withIdempotency } from "./idempotency.ts";

export interface SubmitJobInput {
  clientId: string;
  type: unknown;
  payload: unknown;
  idempotencyKey?: string | undefined;
  requestId?: string;
  /** `runAt` or `delay` from the body, if the job is to run later. */
  schedule?: ScheduleInput;
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
  if (input.idempotencyKey !== undefined) validateIdempotencyKey(input.idempotencyKey);
  const runAt = resolveRunAt(input.schedule ?? {}, Date.now(), deps.maxDelayMs);
  const status = runAt !== null && Date.parse(runAt) > Date.now() ? "scheduled" : "queued";

  const build = (jobId: string): JobMessage => ({
    jobId,
    clientId: input.clientId,
    type: jobType.name,
    payload: input.payload ?? null,
    submittedAt: new Date().toISOString(),
    ...(input.requestId ? { requestId: input.requestId } : {}),
    ...(runAt !== null ? { runAt } : {}),
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
    { jobId, requestHash: requestHash(jobType.name, input.payload) },
    (id) => enqueueJob(deps, build(id)),
  );
  return { ...stored, status };
}
