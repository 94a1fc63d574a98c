/**
 * What the API's routes add to the shapes of libs/contracts/schemas.ts, for their `schema` option:
 * Fastify validates and serializes with them, and @fastify/swagger builds the OpenAPI document at
 * /docs from them (never by hand).
 */
import { Type } from "@sinclair/typebox";
import { ErrorBodySchema } from "../../libs/contracts/schemas.ts";

// ErrorBodySchema is registered once by the plugin (app.addSchema) and referred to by its $id.
const ref = { $ref: `${ErrorBodySchema.$id}#` };
/** The error answers a route may give, for its `response` schema. */
export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, ref]));

export const jobIdParams = Type.Object({ id: Type.String({ description: "the job id (a ULID)" }) });

/** GET /v1/jobs/:id's query: how long to wait for the job to end. */
export const waitQuery = Type.Object({
  wait: Type.Optional(
    Type.Number({
      minimum: 0,
      maximum: 60,
      description:
        "seconds (0 to 60) to wait for the job to end: answers as soon as it has, else its state when the wait runs out (with Retry-After). `Prefer: wait=<seconds>` (RFC 7240) means the same; this wins",
    }),
  ),
});

/** The headers a job's state is answered with, for the OpenAPI document. */
export const jobStateHeaders = {
  "retry-after": { type: "integer", description: "seconds before asking again; only while the job has not ended" },
  "preference-applied": { type: "string", description: "`wait=<seconds>`: the Prefer wait was honoured" },
};
