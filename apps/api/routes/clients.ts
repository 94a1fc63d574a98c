import type { FastifyPluginAsync } from "fastify";
import { ulid } from "ulid";
import { TOKEN_COOKIE, verifyRequest } from "../../../libs/auth/mod.ts";
import type { ApiDeps } from "../deps.ts";

/**
 * POST /v1/clients: a new client identity. The token is returned in the body (for the CLI and for
 * pages that send it as a header or `?access_token=`) and set as an HttpOnly cookie (for pages
 * on the same origin, so script never needs to hold it).
 */
export const clientRoutes: FastifyPluginAsync<ApiDeps> = async (app, { tokens, rateLimitClients }) => {
  const rateLimit = rateLimitClients > 0 ? { max: rateLimitClients, timeWindow: 60_000 } : false;
  app.post("/v1/clients", { config: { rateLimit } }, async (request, reply) => {
    const clientId = ulid();
    const { token, expiresAt } = await tokens.mint(clientId);
    reply.setCookie(TOKEN_COOKIE, token, {
      httpOnly: true,
      sameSite: "lax",
      secure: request.protocol === "https",
      path: "/",
      expires: expiresAt,
    });
    request.log.info({ clientId }, "client created");
    return reply.status(201).send({ clientId, token, expiresAt: expiresAt.toISOString() });
  });

  /** GET /v1/clients/me: who the token (or cookie) says the caller is; 401 if nobody. */
  app.get("/v1/clients/me", async (request) => {
    const { clientId, expiresAt } = await verifyRequest(request, tokens);
    return { clientId, expiresAt: expiresAt.toISOString() };
  });
};
