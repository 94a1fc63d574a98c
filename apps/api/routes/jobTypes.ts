import type { FastifyPluginAsync } from "fastify";
import type { ApiDeps } from "../deps.ts";
import { Type } from "@sinclair/typebox";
import { JobTypeInfoSchema, type JobTypeInfo } from "../../../libs/contracts/schemas.ts";

/**
 * GET /v1/job-types: the job types this herald runs, with a description, an example payload,
 * the payload's JSON Schema, the type's time limit and its concurrency cap — what the web page's form and
 * `herald submit --help` users need.
 * Public: it says what herald can do, nothing about anyone's jobs.
 */
export const jobTypeRoutes: FastifyPluginAsync<ApiDeps> = async (app, { registry }) => {
  const body = registry.all().map(
    (t): JobTypeInfo => ({
      name: t.name,
      description: t.description ?? null,
      example: t.example ?? null,
      schema: JSON.parse(JSON.stringify(t.schema)) as unknown, // TypeBox schemas carry symbols: plain JSON only
      timeoutMs: registry.timeoutMs(t),
      concurrency: registry.concurrency(t.name),
    }),
  );
  app.get(
    "/v1/job-types",
    {
      schema: {
        tags: ["jobs"],
        summary:
          "The job types this herald runs: an example payload, the payload's JSON Schema, the time limit, the concurrency cap",
        response: { 200: Type.Array(JobTypeInfoSchema) },
      },
    },
    async () => body,
  );
};
