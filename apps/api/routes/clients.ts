import type { FastifyPluginAsync } from "fastify";
import { newId } from "../../../libs/ids/mod.ts";
import { TOKEN_COOKIE, verifyRequest } from "../../../libs/auth/mod.ts";
import type { ApiDeps } from "../deps.ts";
import { errors } from "../schemas.ts";
import {
  ClientIdentitySchema,
  CurrentClientSchema,
  type ClientIdentity,
  type CurrentClient,
} from "../../../libs/contracts/schemas.ts";
import { tokenSecurity as security } from "../../../libs/http/mod.ts";

/**
 * POST /v1/clients: a new client identity. The token is returned in the body (for the CLI and for
 * pages that send it as a header or `?access_token=`) and set as an HttpOnly cookie (for pages
 * on the same origin, so script never needs to hold it).
 */
export const clientRoutes: FastifyPluginAsync<ApiDeps> = async (app, { tokens, rateLimitClients }) => {
  const rateLimit = rateLimitClients > 0 ? { max: rateLimitClients, timeWindow: 60_000 } : false;
  app.post(
    "/v1/clients",
    {
      config: { rateLimit },
      schema: {
        tags: ["clients"],
        summary: "Create a client identity: a client id and its token (also set as an HttpOnly cookie)",
        response: { 201: ClientIdentitySchema, ...errors(429) },
      },
    },
    async (request, reply) => {
      const clientId = newId();
      const { token, expiresAt } = await tokens.mint(clientId);
      reply.setCookie(TOKEN_COOKIE, token, {
        httpOnly: true,
        sameSite: "lax",
        secure: request.protocol === "https",
        path: "/",
        expires: expiresAt,
      });
      request.log.info({ clientId }, "client created");
      return reply.status(201).send({ clientId, token, expiresAt: expiresAt.toISOString() } satisfies ClientIdentity);
    },
  );

  /** GET /v1/clients/me: who the token (or cookie) says the caller is; 401 if nobody. */
  app.get(
    "/v1/clients/me",
    {
      schema: {
        tags: ["clients"],
        summary: "Who the token or cookie says the caller is",
        security,
        response: { 200: CurrentClientSchema, ...errors(401) },
      },
    },
    async (request): Promise<CurrentClient> => {
      const { clientId, expiresAt } = await verifyRequest(request, tokens);
      return { clientId, expiresAt: expiresAt.toISOString() };
    },
  );
};
