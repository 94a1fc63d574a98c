import { createHmac, timingSafeEqual } from "node:crypto";
import { SignJWT } from "jose";
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
}

/**
 * HS256 JWTs with `sub` = client id and `exp`. Several secrets may be configured: the first signs,
 * every one verifies, so a secret can be rotated without logging every client out.
 * Only HS256 is accepted (never `alg: none`, never an asymmetric algorithm with the secret as key).
 */
export function createTokens(secrets: readonly string[], ttlMs: number): Tokens {
  if (secrets.length === 0) throw new Error("createTokens: at least one secret is required");
  const rawKeys = secrets.map((s) => new TextEncoder().encode(s));
  const secretBytes = secrets.map((s) => Buffer.from(s, "utf8"));
  // Imported once: given raw bytes, jose imports a WebCrypto key on every call.
  let keys: Promise<CryptoKey[]> | null = null;
  const cryptoKeys = () =>
    (keys ??= Promise.all(
      rawKeys.map((raw) =>
        crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]),
      ),
    ));
  const verified = new VerifiedTokenCache(VERIFIED_CACHE_SIZE);

  return {
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
      if (typeof token !== "string") throw new UnauthorizedError("the token is not valid", "invalid_token");
      const known = verified.get(token);
      if (known) return known;
      const result = verifyHs256(token, secretBytes);
      verified.add(token, result);
      return result;
    },
  };
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Verifies an HS256 JWT with node:crypto, synchronously: the signature (constant-time, against each
 * secret), then `exp` (required), `nbf` and `iat` (if present), and `sub` (a client id). The same
 * checks jose's jwtVerify made with `algorithms: ["HS256"], requiredClaims: ["sub", "exp"]`; jose
 * still mints. Why not jose here: it verifies through WebCrypto, an async job per token, and a
 * notifier that every client of a dead one reconnects to sees thousands of tokens it never saw at
 * once: that was a fifth of its CPU in the reconnect storm (bench scenario 6, --cpu-prof).
 */
function verifyHs256(token: string, secrets: readonly Buffer[]): VerifiedToken {
  const invalid = () => new UnauthorizedError("the token is not valid", "invalid_token");
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => BASE64URL.test(p))) throw invalid();
  const [h, p, sig] = parts as [string, string, string];
  const header = parseJsonObject(h);
  // Only HS256; no `crit` extensions or unencoded payloads (jose refused those too).
  if (!header || header.alg !== ALG || "crit" in header || "b64" in header) throw invalid();
  const signature = Buffer.from(sig, "base64url");
  const signed = `${h}.${p}`;
  const valid = secrets.some((secret) => {
    const expected = createHmac("sha256", secret).update(signed).digest();
    return signature.length === expected.length && timingSafeEqual(signature, expected);
  });
  if (!valid) throw invalid();
  const claims = parseJsonObject(p);
  if (!claims) throw invalid();
  const now = Math.floor(Date.now() / 1000);
  const { sub, exp, nbf, iat } = claims;
  if (typeof exp !== "number" || !Number.isFinite(exp)) throw invalid();
  if ((nbf !== undefined && (typeof nbf !== "number" || nbf > now)) || (iat !== undefined && typeof iat !== "number"))
    throw invalid();
  if (exp <= now) throw new UnauthorizedError("the token has expired", "token_expired");
  if (typeof sub !== "string" || !isClientId(sub))
    throw new UnauthorizedError("the token's subject is not a valid client id", "invalid_token");
  return { clientId: sub, expiresAt: new Date(exp * 1000) };
}

function parseJsonObject(part: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
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
