import type { FastifyPluginAsync } from "fastify";
import { ulid } from "ulid";
import { TOKEN_COOKIE, type Tokens } from "../../../libs/auth/mod.ts";

/**
 * POST /v1/clients: a new client identity. The token is returned in the body (for the CLI and for
 * pages that send it as a header or `?access_token=`) and set as an HttpOnly cookie (for pages
 * on the same origin, so script never needs to hold it).
 */
export const clientRoutes: FastifyPluginAsync<{ tokens: Tokens }> = async (app, { tokens }) => {
  app.post("/v1/clients", async (request, reply) => {
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
};
