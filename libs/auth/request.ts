import type { FastifyRequest } from "fastify";
import { UnauthorizedError } from "../contracts/mod.ts";
import type { Tokens, VerifiedToken } from "./tokens.ts";

export const TOKEN_COOKIE = "herald_token";

/**
 * The token of a request, from (in this order) `Authorization: Bearer`, the `herald_token` cookie,
 * or `?access_token=` (for a cross-origin EventSource, which cannot set headers).
 */
export function tokenFromRequest(request: FastifyRequest): string | null {
  const auth = request.headers.authorization;
  if (auth !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (!m) throw new UnauthorizedError("the Authorization header must be `Bearer <token>`", "invalid_token");
    return m[1]!;
  }
  const cookie = request.cookies?.[TOKEN_COOKIE];
  if (cookie) return cookie;
  const query = request.query as Record<string, unknown> | undefined;
  const fromQuery = query?.access_token;
  if (typeof fromQuery === "string" && fromQuery) return fromQuery;
  return null;
}

/** The verified token of a request (client id and expiry); throws UnauthorizedError (401). */
export async function verifyRequest(request: FastifyRequest, tokens: Tokens): Promise<VerifiedToken> {
  const token = tokenFromRequest(request);
  if (!token) throw new UnauthorizedError();
  return tokens.verify(token);
}

/** The verified client id of a request; throws UnauthorizedError (401). */
export async function authenticate(request: FastifyRequest, tokens: Tokens): Promise<string> {
  return (await verifyRequest(request, tokens)).clientId;
}
