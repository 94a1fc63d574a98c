import type { FastifyError, FastifyInstance } from "fastify";
import { HeraldError, type ErrorBody } from "../contracts/mod.ts";
import { isNatsUnavailable } from "../nats/connectionState.ts";

export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } };
}

/** Fastify's own client errors (bad JSON, wrong content type, too large…) mapped to herald's codes. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported_media_type",
  FST_ERR_CTP_BODY_TOO_LARGE: "payload_too_large",
  FST_ERR_CTP_EMPTY_JSON_BODY: "invalid_json",
  FST_ERR_CTP_INVALID_JSON_BODY: "invalid_json",
  FST_ERR_VALIDATION: "invalid_input",
};

/**
 * Every error leaves as `{ error: { code, message } }` (docs/design.md, "api"). HeraldErrors carry
 * their own status; Fastify's client errors keep theirs; NATS not answering is a 503; anything else
 * is a bug: logged, and a bare 500.
 */
export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | HeraldError | Error, request, reply) => {
    if (err instanceof HeraldError) {
      if (err.status >= 500) request.log.warn({ err }, "request failed");
      return reply.status(err.status).headers(err.headers).send(errorBody(err.code, err.message));
    }
    if (isNatsUnavailable(err)) {
      request.log.warn({ err }, "NATS unavailable");
      return reply
        .status(503)
        .header("retry-after", "2")
        .send(errorBody("nats_unavailable", "NATS is unavailable; try again shortly"));
    }
    const fe = err as FastifyError;
    const status = fe.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const code =
        (fe.code && FASTIFY_CODES[fe.code]) ??
        (fe.validation ? "invalid_input" : status === 413 ? "payload_too_large" : "bad_request");
      return reply.status(status).send(errorBody(code, fe.message));
    }
    request.log.error({ err }, "unhandled error");
    return reply.status(500).send(errorBody("internal", "internal error"));
  });

  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(errorBody("not_found", `no route for ${request.method} ${request.url.split("?")[0]}`));
  });
}
