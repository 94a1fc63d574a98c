import { SignJWT, jwtVerify, errors as joseErrors } from "jose";
import { isClientId } from "../contracts/mod.ts";
import { UnauthorizedError } from "../contracts/mod.ts";

const ALG = "HS256";

export interface VerifiedToken {
  clientId: string;
  expiresAt: Date;
}

export interface Tokens {
  /** Signs a token for `clientId` with the first secret. */
  mint(clientId: string, ttlMs?: number): Promise<{ token: string; expiresAt: Date }>;
  /** Verifies with every configured secret; throws UnauthorizedError. */
  verify(token: string): Promise<VerifiedToken>;
  readonly ttlMs: number;
}

/**
 * HS256 JWTs with `sub` = client id and `exp`. Several secrets may be configured: the first signs,
 * every one verifies, so a secret can be rotated without logging every client out.
 * Only HS256 is accepted (never `alg: none`, never an asymmetric algorithm with the secret as key).
 */
export function createTokens(secrets: readonly string[], ttlMs: number): Tokens {
  if (secrets.length === 0) throw new Error("createTokens: at least one secret is required");
  const keys = secrets.map((s) => new TextEncoder().encode(s));

  return {
    ttlMs,
    async mint(clientId, ttl = ttlMs) {
      if (!isClientId(clientId)) throw new TypeError(`invalid client id ${JSON.stringify(clientId)}`);
      const expiresAt = new Date(Math.floor((Date.now() + ttl) / 1000) * 1000);
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: ALG, typ: "JWT" })
        .setSubject(clientId)
        .setIssuedAt()
        .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
        .sign(keys[0]!);
      return { token, expiresAt };
    },
    async verify(token) {
      let expired = false;
      for (const key of keys) {
        try {
          const { payload } = await jwtVerify(token, key, { algorithms: [ALG], requiredClaims: ["sub", "exp"] });
          if (!isClientId(payload.sub)) throw new UnauthorizedError("the token's subject is not a valid client id", "invalid_token");
          return { clientId: payload.sub, expiresAt: new Date(payload.exp! * 1000) };
        } catch (err) {
          if (err instanceof UnauthorizedError) throw err;
          if (err instanceof joseErrors.JWTExpired) expired = true;
          // Try the next secret: the token may be signed with an older one.
        }
      }
      throw expired
        ? new UnauthorizedError("the token has expired", "token_expired")
        : new UnauthorizedError("the token is not valid", "invalid_token");
    },
  };
}
