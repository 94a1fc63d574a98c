/**
 * JSON Schemas of the HTTP API, for the routes' `schema` option: Fastify validates and serializes
 * with them, and @fastify/swagger builds the OpenAPI document at /docs from them (never by hand).
 */
export const errorSchema = {
  $id: "Error",
  type: "object",
  properties: {
    error: {
      type: "object",
      properties: { code: { type: "string" }, message: { type: "string" } },
      required: ["code", "message"],
    },
  },
  required: ["error"],
} as const;

const ref = { $ref: "Error#" };
export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ref]));

const progress = {
  type: ["object", "null"],
  properties: { pct: { type: "number" }, message: { type: ["string", "null"] } },
};
const jobError = { type: ["object", "null"], properties: { code: { type: "string" }, message: { type: "string" } } };

export const jobStateSchema = {
  $id: "JobState",
  type: "object",
  properties: {
    jobId: { type: "string" },
    type: { type: "string" },
    status: { type: "string", enum: ["queued", "running", "retrying", "succeeded", "failed", "canceled"] },
    event: { type: "string" },
    attempt: { type: "integer" },
    progress,
    result: { description: "the handler's result (any JSON value), once succeeded" },
    error: jobError,
    createdAt: { type: "string", format: "date-time" },
    updatedAt: { type: "string", format: "date-time" },
    finishedAt: { type: ["string", "null"], format: "date-time" },
    eventId: { type: "integer", description: "RESULTS sequence of the latest event: resume an event stream from here" },
    statusUrl: { type: "string" },
    eventsUrl: { type: "string" },
  },
} as const;

export const jobIdParams = {
  type: "object",
  properties: { id: { type: "string", description: "the job id (a ULID)" } },
  required: ["id"],
} as const;

