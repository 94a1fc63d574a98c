import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import cookie from "@fastify/cookie";
import { ulid } from "ulid";
import type { Logger } from "pino";
import { errorBody, registerErrorHandling } from "./errors.ts";

const DRAINING = Symbol("herald.draining");

export interface HttpServerOptions {
  log: Logger;
  /** Largest request body, in bytes (413 beyond). */
  bodyLimit?: number;
  /** Trust X-Forwarded-* from a reverse proxy (for Secure cookies behind HTTPS). */
  trustProxy?: boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * The Fastify instance every herald app registers its plugin on: pino logging with request ids
 * (an incoming X-Request-Id is kept, so a job can be followed from a proxy into the worker),
 * cookies, JSON errors everywhere.
 */
export function createHttpServer(opts: HttpServerOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: opts.log as FastifyBaseLogger,
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    trustProxy: opts.trustProxy ?? false,
    requestIdHeader: "x-request-id",
    genReqId: (req) => {
      const incoming = req.headers["x-request-id"];
      return typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : ulid();
    },
    // Deep JSON cannot blow the stack: Fastify parses with secure-json-parse; the schema limits shape.
    // Draining is answered by our own hook below, in herald's error format and with Retry-After.
    return503OnClosing: false,
  });
  app.addHook("onRequest", async (request, reply) => {
    if ((app as unknown as Record<symbol, boolean>)[DRAINING]) {
      return reply
        .status(503)
        .header("retry-after", "1")
        .header("connection", "close")
        .send(errorBody("shutting_down", "this instance is shutting down; try again"));
    }
  });
  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  // herald speaks JSON only: any other body is a 415, not a string that fails validation later.
  app.removeContentTypeParser("text/plain");
  void app.register(cookie);
  registerErrorHandling(app);
  return app;
}

/**
 * Graceful stop: new requests get 503 + Retry-After (a load balancer or client retries elsewhere),
 * requests in flight finish, `preClose` hooks run (the notifier ends its streams), then the
 * server closes.
 */
export async function drainAndClose(app: FastifyInstance): Promise<void> {
  (app as unknown as Record<symbol, boolean>)[DRAINING] = true;
  await app.close();
}
