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
