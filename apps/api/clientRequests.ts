import type { FastifyInstance } from "fastify";
import { UnavailableError } from "../../libs/contracts/mod.ts";
import { authenticate } from "../../libs/auth/mod.ts";
import type { ApiDeps } from "./deps.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The verified client id of a client's request (set before the body is even read). */
    clientId: string;
  }
}

/**
 * Makes every route of `app` (an encapsulated plugin: the job routes, the webhook routes) a
 * client's: while NATS is down nothing there can be answered, so 503 at once (a publish would wait
 * for its timeout; clients retry after Retry-After); then authenticate, before any body is parsed or
 * any limit counted for a stranger. Sets `request.clientId`.
 */
export function authenticateClientRequests(
  app: FastifyInstance,
  deps: Pick<ApiDeps, "natsConnected" | "tokens">,
): void {
  app.decorateRequest("clientId", "");
  app.addHook("onRequest", async (request) => {
    if (!deps.natsConnected())
      throw new UnavailableError("NATS is unavailable; try again shortly", "nats_unavailable", 2);
    request.clientId = await authenticate(request, deps.tokens);
  });
}
