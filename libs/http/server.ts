import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import cookie from "@fastify/cookie";
import cors from "@fastify/cors";
import helmet from "helmet";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { Socket } from "node:net";
import { newId } from "../ids/mod.ts";
import type { Logger } from "pino";
import { errorBody, registerErrorHandling } from "./errors.ts";
import { isDraining } from "./drainAndClose.ts";
import { TOKEN_COOKIE } from "../auth/mod.ts";
import type { Config } from "../config/mod.ts";

export interface HttpServerOptions {
  log: Logger;
  /** bodyLimitBytes (413 beyond), trustProxy (X-Forwarded-*: client IPs, https for Secure cookies), corsOrigins. */
  config: Pick<Config, "bodyLimitBytes" | "trustProxy" | "corsOrigins">;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;
const UNSAFE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * The Fastify instance every herald app registers its plugin on: pino logging with request ids
 * (an incoming X-Request-Id is kept, so a job can be followed from a proxy into the worker),
 * cookies, CORS for the allowed origins, security headers, CSRF protection for cookie-authenticated
 * requests, and herald's JSON errors everywhere — down to malformed HTTP.
 */
export function createHttpServer(opts: HttpServerOptions): FastifyInstance {
  const corsOrigins = new Set(opts.config.corsOrigins);
  const app = Fastify({
    loggerInstance: opts.log as FastifyBaseLogger,
    bodyLimit: opts.config.bodyLimitBytes,
    trustProxy: opts.config.trustProxy,
    // Not Fastify's requestIdHeader: it would take the header as it is. genReqId keeps an incoming
    // X-Request-Id only if it is a short, plain token; anything else gets a fresh id.
    requestIdHeader: false,
    genReqId: (req) => {
      const incoming = req.headers["x-request-id"];
      return typeof incoming === "string" && REQUEST_ID.test(incoming) ? incoming : newId();
    },
    // Draining is answered by our own hook below, in herald's error format and with Retry-After.
    return503OnClosing: false,
    clientErrorHandler: jsonClientError,
    // Errors the router raises before any hook runs (a malformed %-escape, a parameter over 100
    // characters): herald's JSON error like any other 4xx.
    frameworkErrors: (error, _request, reply) => {
      const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
      // (Fastify types this reply by route generics; it is a plain reply here.)
      (reply as unknown as FastifyReply)
        .status(status)
        .send(errorBody(status === 414 ? "uri_too_long" : "bad_request", error.message));
    },
    // Node would answer an HTTP/1.1 request without Host itself, with an empty 400; let it reach
    // herald (it is refused below, in herald's format).
    http: { requireHostHeader: false },
  });
  app.addHook("onRequest", async (request, reply) => {
    if (request.raw.httpVersionMajor === 1 && request.raw.httpVersionMinor === 1 && !request.headers.host) {
      return reply.status(400).send(errorBody("bad_request", "an HTTP/1.1 request needs a Host header"));
    }
  });
  // Node's own answers to odd requests, in herald's format: an Expect it does not support (417) and
  // CONNECT (no tunnels here).
  app.server.on("checkExpectation", (_req, res) => {
    const body = JSON.stringify(errorBody("expectation_failed", "only Expect: 100-continue is supported"));
    res.writeHead(417, {
      "content-type": "application/json; charset=utf-8",
      "content-length": Buffer.byteLength(body),
      connection: "close",
    });
    res.end(body);
  });
  app.server.on("connect", (_req, socket: Socket) => {
    const body = JSON.stringify(errorBody("method_not_allowed", "CONNECT is not supported"));
    socket.end(
      `HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  });
  // A response finished after the drain began closes its connection. Without this, a keep-alive
  // connection whose request was in flight when the drain began stayed open after its response
  // (Node closes only the connections idle at close time), and the server's close waited for the
  // client to drop it: up to its keep-alive timeout, past the shutdown timeout (the fault suite's
  // graceful restart, under load, saw the api exit 1 after 30 s).
  app.addHook("onSend", async (_request, reply) => {
    if (isDraining(app)) reply.header("connection", "close");
  });
  app.addHook("onRequest", async (request, reply) => {
    // Liveness stays answered while draining: the process is fine, it is only leaving.
    if (isDraining(app) && request.url !== "/healthz") {
      return reply
        .status(503)
        .header("retry-after", "1")
        .header("connection", "close")
        .send(errorBody("shutting_down", "this instance is shutting down; try again"));
    }
    // CSRF: a browser sends the cookie with a cross-site request too; it also says where the
    // request comes from. A cookie-authenticated write from any origin but ours (or an allowed
    // one) is refused. Bearer and ?access_token= requests carry their credential explicitly.
    if (
      UNSAFE_METHODS.has(request.method) &&
      !request.headers.authorization &&
      request.headers.cookie?.includes(`${TOKEN_COOKIE}=`)
    ) {
      const origin = request.headers.origin;
      const site = request.headers["sec-fetch-site"];
      const foreign =
        (origin !== undefined && origin !== ownOrigin(request) && !corsOrigins.has(origin)) || site === "cross-site";
      if (foreign) {
        return reply
          .status(403)
          .send(errorBody("csrf_rejected", "a cookie-authenticated request from another site is not allowed"));
      }
    }
  });
  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
  });
  // herald speaks JSON only: any other body is a 415, not a string that fails validation later.
  app.removeContentTypeParser("text/plain");
  void app.register(cookie);
  void app.register(cors, {
    // Only the listed origins; credentials so that their pages can use the cookie.
    origin: (origin, cb) => cb(null, origin !== undefined && corsOrigins.has(origin)),
    credentials: true,
    methods: ["GET", "POST", "DELETE"],
    allowedHeaders: ["authorization", "content-type", "idempotency-key", "last-event-id", "x-request-id"],
    exposedHeaders: ["location", "retry-after", "x-request-id", "idempotent-replayed"],
    maxAge: 600,
  });
  // Helmet's middleware, built once. (@fastify/helmet rebuilds it — and re-parses the CSP — on every
  // request: 3% of the api's CPU under load, bench --cpu-prof.)
  const securityHeaders = helmet({
    // The web page loads only its own scripts and styles, and talks only to this origin.
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
        formAction: ["'self'"],
        baseUri: ["'self'"],
        objectSrc: ["'none'"],
        // Not on plain-HTTP deployments (npm start on a laptop): it would send the page's own
        // requests to https. Behind HTTPS, Strict-Transport-Security already keeps them there.
        upgradeInsecureRequests: null,
      },
    },
    // Cross-origin pages on the allow-list must be able to read responses.
    crossOriginResourcePolicy: { policy: corsOrigins.size ? "cross-origin" : "same-origin" },
  });
  app.addHook("onRequest", (request, reply, done) => {
    if ((request.routeOptions.config as { securityHeaders?: string } | undefined)?.securityHeaders === "stream") {
      // An event stream is never a document: the headers that guard documents (CSP, framing,
      // referrer, COOP/CORP, …) have nothing to act on there, and Node keeps every header of a
      // response for as long as it lasts — ~1.3 KB on each of tens of thousands of idle streams.
      reply.raw.setHeader("x-content-type-options", "nosniff");
      return done();
    }
    securityHeaders(request.raw, reply.raw, (err) => done(err as Error | undefined));
  });
  // The OpenAPI document, generated from the route schemas as routes are registered, at /docs.
  void app.register(swagger, {
    openapi: {
      info: {
        title: "herald",
        version: "1",
        description: "Run a slow job; push its progress and result to whoever asked, the moment it happens.",
      },
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
          cookie: { type: "apiKey", in: "cookie", name: TOKEN_COOKIE },
          accessToken: { type: "apiKey", in: "query", name: "access_token" },
        },
      },
    },
  });
  void app.register(swaggerUi, { routePrefix: "/docs", staticCSP: true });
  registerErrorHandling(app);
  return app;
}

function ownOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/** Malformed HTTP (bad request line, headers over the size limit, …): herald's JSON error, then close. */
function jsonClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed || !socket.writable) return;
  const [status, reason, code, message] =
    err.code === "HPE_HEADER_OVERFLOW"
      ? [431, "Request Header Fields Too Large", "headers_too_large", "the request headers are too large"]
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "Request Timeout", "request_timeout", "the request took too long to arrive"]
        : [400, "Bad Request", "bad_request", "malformed HTTP request"];
  const body = JSON.stringify(errorBody(code, message));
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
