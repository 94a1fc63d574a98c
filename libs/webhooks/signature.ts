import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/*
 * Webhook signatures per the Standard Webhooks spec, v1.0.0
 * (github.com/standard-webhooks/standard-webhooks, spec/standard-webhooks.md, "Verifying webhook
 * authenticity"), symmetric scheme only: any receiver can check herald's webhooks with a Standard
 * Webhooks library (e.g. the `standardwebhooks` npm package) or ~10 lines of HMAC code.
 */

/** "Secret serialization": base64, prefixed so a secret is recognisable (and not mistaken for an asymmetric `whsk_` key). */
const SECRET_PREFIX = "whsec_";
/** "Signing secret: Random. At least 24 bytes (192 bits, 512 maximum)". */
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;
/** 256 bits, as much as HMAC-SHA256 can use: a longer key is hashed down first (RFC 2104). */
const NEW_KEY_BYTES = 32;
/** "Signature identifier" of the symmetric scheme (`v1a` is ed25519, which herald does not send). */
const SIGNATURE_VERSION = "v1";
/** The reference libraries' default; the spec only asks for "some allowable tolerance" against replays. */
const DEFAULT_TOLERANCE_SECONDS = 5 * 60;
/** Year 5138 in seconds, or 1973 in milliseconds: a larger "seconds" value is almost surely Date.now(). */
const MAX_TIMESTAMP_SECONDS = 100_000_000_000;

export type WebhookSignInput = {
  /** The message id: the same on every retry of one event, so receivers can use it as an idempotency key. */
  id: string;
  /** When this attempt is made, in whole seconds since the epoch (renewed on each retry, unlike the id). */
  timestamp: number;
  /** The exact bytes sent as the request body: a receiver re-serialising parsed JSON breaks the signature. */
  body: string;
  /** The endpoint's active secrets, newest first; more than one only during a rotation's grace period. */
  secrets: readonly string[];
};

export type WebhookVerifyInput = {
  /** The raw request body, as received (not parsed and re-serialised). */
  body: string;
  /** The request's headers; names are matched case-insensitively. Node's `req.headers` fits as is. */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  secret: string;
  /** How far `webhook-timestamp` may be from `now`, either way. Default 300. */
  toleranceSeconds?: number;
  /** The current time in seconds since the epoch. Default: the clock. */
  now?: number;
};

/** A new endpoint secret: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(NEW_KEY_BYTES).toString("base64");
}

/** Whether `s` has the shape of a symmetric Standard Webhooks secret (`whsec_`, canonical padded base64, 24–64 bytes). */
export function isWebhookSecret(s: unknown): s is string {
  return decodeSecret(s) !== undefined;
}

/** The `webhook-signature` header value: `v1,<base64 HMAC-SHA256>` for each secret, space-separated. */
export function signWebhook(input: WebhookSignInput): string {
  const { id, timestamp, body, secrets } = input;
  checkId(id);
  checkTimestamp(timestamp);
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw new TypeError("signWebhook: secrets must list at least one whsec_ secret");
  }
  const keys = secrets.map((secret, i) => keyOf(secret, `signWebhook: secrets[${i}]`));
  // The spec makes the header a list so a rotation needs no downtime: receivers holding either
  // the new or the old secret find a signature they can check ("Webhook headers").
  return keys.map((key) => `${SIGNATURE_VERSION},${hmac(key, id, timestamp, body)}`).join(" ");
}

/** The three Standard Webhooks headers for one delivery attempt. */
export function webhookHeaders(input: WebhookSignInput): Record<string, string> {
  return {
    "webhook-id": input.id,
    "webhook-timestamp": String(input.timestamp),
    "webhook-signature": signWebhook(input),
  };
}

/**
 * Whether the request carries a valid signature of `body` by `secret`, made within `toleranceSeconds`
 * of `now`. False (never a throw) for anything a sender controls: missing or malformed headers, a
 * stale or future timestamp, no matching `v1` signature. Throws a TypeError for an invalid `secret`,
 * which is the receiver's own mistake.
 */
export function verifyWebhook(input: WebhookVerifyInput): boolean {
  const key = keyOf(input.secret, "verifyWebhook: secret");
  const tolerance = input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (!Number.isFinite(tolerance) || tolerance < 0) {
    throw new TypeError(`verifyWebhook: toleranceSeconds must be a number >= 0, got ${tolerance}`);
  }
  const now = input.now ?? Math.floor(Date.now() / 1000);

  const id = header(input.headers, "webhook-id");
  const timestampText = header(input.headers, "webhook-timestamp");
  const signatures = header(input.headers, "webhook-signature");
  if (id === undefined || timestampText === undefined || signatures === undefined) return false;
  if (!isValidId(id) || !/^\d{1,15}$/.test(timestampText)) return false;
  const timestamp = Number(timestampText);
  // The timestamp is signed, so a fresh one cannot be forged: checking it is what stops an old,
  // captured request from being replayed ("Verifying signatures").
  if (Math.abs(now - timestamp) > tolerance) return false;

  const expected = Buffer.from(hmac(key, id, timestamp, input.body), "ascii");
  for (const entry of signatures.split(" ")) {
    const comma = entry.indexOf(",");
    // Other versions (`v1a`, or ones not yet defined) are skipped, not failed: the header may carry
    // a signature this receiver cannot check next to one it can.
    if (comma < 0 || entry.slice(0, comma) !== SIGNATURE_VERSION) continue;
    const given = Buffer.from(entry.slice(comma + 1), "ascii");
    // Constant time, as the spec requires: a comparison that stops at the first wrong byte lets an
    // attacker find a valid signature byte by byte. The length of a valid one is no secret.
    if (given.length === expected.length && timingSafeEqual(given, expected)) return true;
  }
  return false;
}

function hmac(key: Buffer, id: string, timestamp: number, body: string): string {
  // "{msg_id}.{timestamp}.{payload}": signing the id and the timestamp with the body is what
  // keeps them from being swapped onto another payload ("Signature scheme").
  return createHmac("sha256", key).update(`${id}.${timestamp}.${body}`, "utf8").digest("base64");
}

function keyOf(secret: unknown, what: string): Buffer {
  const key = decodeSecret(secret);
  if (key === undefined) {
    throw new TypeError(
      `${what} is not a webhook secret: expected "${SECRET_PREFIX}" + base64 of ${MIN_KEY_BYTES} to ${MAX_KEY_BYTES} bytes (see newWebhookSecret)`,
    );
  }
  return key;
}

function decodeSecret(s: unknown): Buffer | undefined {
  if (typeof s !== "string" || !s.startsWith(SECRET_PREFIX)) return undefined;
  const encoded = s.slice(SECRET_PREFIX.length);
  const key = Buffer.from(encoded, "base64");
  // Buffer.from skips characters outside the alphabet and accepts base64url: only a round trip
  // proves the text is the standard, padded base64 that other libraries decode to the same key.
  if (key.toString("base64") !== encoded) return undefined;
  if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) return undefined;
  return key;
}

/**
 * The spec asks that the id not contain a "." (it would make `{msg_id}.{timestamp}` ambiguous);
 * visible ASCII keeps it a valid header value.
 */
function isValidId(id: string): boolean {
  return /^[\x21-\x2d\x2f-\x7e]+$/.test(id);
}

function checkId(id: unknown): void {
  if (typeof id !== "string" || !isValidId(id)) {
    throw new TypeError(`signWebhook: id must be non-empty visible ASCII without ".", got ${JSON.stringify(id)}`);
  }
}

function checkTimestamp(timestamp: unknown): void {
  if (
    typeof timestamp !== "number" ||
    !Number.isSafeInteger(timestamp) ||
    timestamp < 0 ||
    timestamp >= MAX_TIMESTAMP_SECONDS
  ) {
    throw new TypeError(
      `signWebhook: timestamp must be whole seconds since the epoch (Math.floor(Date.now() / 1000)), got ${String(timestamp)}`,
    );
  }
}

function header(headers: WebhookVerifyInput["headers"], name: string): string | undefined {
  for (const [key, value] of Object.entries(headers)) {
    // A repeated header arrives as an array (or joined with ", " by node:http): not ours, either way.
    if (key.toLowerCase() === name) return typeof value === "string" ? value : undefined;
  }
  return undefined;
}
