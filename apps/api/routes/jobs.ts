import type { FastifyPluginAsync } from "fastify";
import { InvalidInputError, isJobId, jobUrls } from "../../../libs/contracts/mod.ts";
import type { ApiDeps } from "../deps.ts";
import { errors, jobIdParams, jobStateHeaders, waitQuery } from "../schemas.ts";
import {
  JobListSchema,
  JobStateSchema,
  ListJobsQuerySchema,
  type JobState,
  SubmitJobRequestSchema,
  SubmittedJobSchema,
  type SubmitJobRequest,
  type SubmittedJob,
} from "../../../libs/contracts/schemas.ts";
import { tokenSecurity as security } from "../../../libs/http/mod.ts";
import { submitJob } from "../submitJob.ts";
import { authenticateClientRequests } from "../clientRequests.ts";
import { getJobState } from "../getJobState.ts";
import { cancelJob } from "../cancelJob.ts";
import { requestedWait } from "../requestedWait.ts";
import { waitForJobState } from "../waitForJobState.ts";
import { listJobs } from "../listJobs.ts";
import { readListJobsQuery } from "../listJobsQuery.ts";

/** How soon a client should poll a job that has not ended (seconds). */
const RETRY_AFTER_SECONDS = "1";

function jobIdParam(params: unknown): string {
  const id = (params as { id?: unknown }).id;
  if (!isJobId(id)) throw new InvalidInputError("the job id must be a ULID (26 characters)", "invalid_job_id");
  return id;
}

export const jobRoutes: FastifyPluginAsync<ApiDeps> = async (app, deps) => {
  authenticateClientRequests(app, deps);
  const submitLimit =
    deps.rateLimitJobs > 0
      ? {
          max: deps.rateLimitJobs,
          timeWindow: 60_000,
          keyGenerator: (request: { clientId: string }) => request.clientId,
        }
      : false;
  app.post(
    "/v1/jobs",
    {
      config: { rateLimit: submitLimit },
      schema: {
        tags: ["jobs"],
        summary: "Submit a job: stored in JetStream before the 202",
        security,
        response: {
          202: SubmittedJobSchema,
          ...errors(400, 401, 403, 413, 415, 422, 429, 503),
        },
        body: SubmitJobRequestSchema,
        headers: { type: "object", properties: { "idempotency-key": { type: "string" } } },
      },
    },
    async (request, reply) => {
      const clientId = request.clientId;
      const body = request.body as SubmitJobRequest;
      const key = request.headers["idempotency-key"];
      const job = await submitJob(deps, {
        clientId,
        type: body.type,
        payload: body.payload,
        timeout: body.timeout,
        idempotencyKey: typeof key === "string" ? key : undefined,
        requestId: request.id,
        schedule: { runAt: body.runAt, delay: body.delay },
        webhook: body.webhook,
      });
      request.log.info({ clientId, jobId: job.jobId, type: body.type, replayed: job.replayed }, "job accepted");
      if (!job.replayed) deps.metrics.jobsSubmitted.inc({ type: body.type });
      const urls = jobUrls(job.jobId);
      return reply
        .status(202)
        .header("location", urls.statusUrl)
        .header("retry-after", RETRY_AFTER_SECONDS)
        .header("idempotent-replayed", String(job.replayed))
        .send({ jobId: job.jobId, status: job.status, ...urls, eventId: job.eventId } satisfies SubmittedJob);
    },
  );

  app.get(
    "/v1/jobs",
    {
      schema: {
        tags: ["jobs"],
        summary: "The caller's jobs, newest first, a page at a time (filters: status, type)",
        security,
        querystring: ListJobsQuerySchema,
        response: { 200: JobListSchema, ...errors(400, 401, 503) },
      },
      // readListJobsQuery reads each part with its own 400 code; what the schema refuses first (a
      // limit out of range, a part given twice) gets the same code.
      schemaErrorFormatter: (errs, where) => {
        const part = where === "querystring" ? errs[0]?.instancePath.slice(1) : undefined;
        return part === "status" || part === "limit" || part === "cursor"
          ? new InvalidInputError(`invalid ${part}: ${errs[0]?.message ?? "not accepted"}`, `invalid_${part}`)
          : new InvalidInputError(`invalid ${where}`, "invalid_input");
      },
    },
    async (request) => listJobs(deps, request.clientId, readListJobsQuery(request.query as Record<string, unknown>)),
  );

  const byId = (summary: string, ok: number, codes: number[]) => ({
    schema: {
      tags: ["jobs"],
      summary,
      security,
      params: jobIdParams,
      response: { [ok]: { $ref: `${JobStateSchema.$id}#` }, ...errors(...codes) },
    },
  });
  app.get<{ Querystring: { wait?: number } }>(
    "/v1/jobs/:id",
    {
      schema: {
        tags: ["jobs"],
        summary: "A job's latest state; with ?wait=, once it has ended (or the wait runs out)",
        security,
        params: jobIdParams,
        querystring: waitQuery,
        headers: {
          type: "object",
          properties: { prefer: { type: "string", description: "`wait=<seconds>` (RFC 7240): as ?wait=" } },
        },
        response: {
          200: { $ref: `${JobStateSchema.$id}#`, headers: jobStateHeaders },
          ...errors(400, 401, 404, 503),
        },
      },
      // A bad ?wait= is the only thing this route's schema can refuse: say so with its own code.
      schemaErrorFormatter: (_errors, where) =>
        new InvalidInputError(
          where === "querystring" ? "wait must be a number of seconds from 0 to 60" : `invalid ${where}`,
          where === "querystring" ? "invalid_wait" : "invalid_input",
        ),
    },
    async (request, reply) => {
      const jobId = jobIdParam(request.params);
      const wait = requestedWait(request.query.wait, request.headers.prefer);
      let state: JobState;
      if (wait && wait.seconds > 0) {
        // The response closes when the client goes away: its wait ends at once.
        const gone = new AbortController();
        const onClose = () => gone.abort();
        reply.raw.once("close", onClose);
        if (request.raw.socket?.destroyed) gone.abort(); // gone before this handler ran
        try {
          state = await waitForJobState(deps, request.clientId, jobId, wait.seconds, gone.signal);
        } finally {
          reply.raw.off("close", onClose);
        }
      } else state = await getJobState(deps, request.clientId, jobId);
      if (wait?.preferred) reply.header("preference-applied", `wait=${wait.seconds}`);
      if (state.finishedAt === null) reply.header("retry-after", RETRY_AFTER_SECONDS);
      return state;
    },
  );

  app.delete(
    "/v1/jobs/:id",
    byId("Cancel a job that has not ended (409 if it has)", 202, [400, 401, 403, 404, 409, 503]),
    async (request, reply) => {
      const state = await cancelJob(deps, request.clientId, jobIdParam(request.params));
      request.log.info({ clientId: request.clientId, jobId: state.jobId }, "job canceled");
      deps.metrics.jobsFinished.inc({ type: state.type, outcome: "canceled" });
      return reply.status(202).send(state);
    },
  );
};
