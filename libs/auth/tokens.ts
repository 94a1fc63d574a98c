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
  const rawKeys = secrets.map((s) => new TextEncoder().encode(s));
  // Imported once: given raw bytes, jose imports a WebCrypto key on every call.
  let keys: Promise<CryptoKey[]> | null = null;
  const cryptoKeys = () =>
    (keys ??= Promise.all(
      rawKeys.map((raw) => crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"])),
    ));
  const verified = new VerifiedTokenCache(VERIFIED_CACHE_SIZE);

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
        .sign((await cryptoKeys())[0]!);
      return { token, expiresAt };
    },
    async verify(token) {
      const known = verified.get(token);
      if (known) return known;
      let expired = false;
      for (const key of await cryptoKeys()) {
        try {
          const { payload } = await jwtVerify(token, key, { algorithms: [ALG], requiredClaims: ["sub", "exp"] });
          if (!isClientId(payload.sub)) throw new UnauthorizedError("the token's subject is not a valid client id", "invalid_token");
          const result = { clientId: payload.sub, expiresAt: new Date(payload.exp! * 1000) };
          verified.add(token, result);
          return result;
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

/** Verified tokens remembered per process: enough for the clients active at once on one instance. */
const VERIFIED_CACHE_SIZE = 4096;

/**
 * Tokens whose signature and claims were verified, until they expire. A client sends the same
 * token with every request; verifying an HMAC through WebCrypto each time was 12% of the api's CPU
 * under load (bench --cpu-prof). Only a token that passed jwtVerify is kept, keyed by its exact
 * text, so a forged or altered token always takes the full path. Bounded: the oldest entry goes
 * first (Map keeps insertion order).
 */
class VerifiedTokenCache {
  #entries = new Map<string, VerifiedToken>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  get(token: string): VerifiedToken | undefined {
    const entry = this.#entries.get(token);
    if (entry && entry.expiresAt.getTime() <= Date.now()) {
      // Expired since: forget it; the full check answers token_expired.
      this.#entries.delete(token);
      return undefined;
    }
    return entry;
  }

  add(token: string, verified: VerifiedToken): void {
    if (this.#entries.size >= this.#max) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(token, verified);
  }
}
