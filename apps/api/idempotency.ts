import type { WebhookTarget } from "../../libs/contracts/mod.ts";
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { KV } from "@nats-io/kv";
import { IdempotencyMismatchError, InvalidInputError, UnavailableError } from "../../libs/contracts/mod.ts";
import { QueueFullError, TooManyQueuedJobsError } from "../../libs/queue/mod.ts";
import { isJetStreamError, JetStreamErrorCode } from "../../libs/nats/mod.ts";

/** How long a claim may stay without its eventId before another request takes the job over. */
const CLAIM_STALE_MS = 5_000;
const POLL_MS = 20;
const MAX_KEY_LENGTH = 255;

/** What the idempotency bucket keeps per (client, key). */
interface IdempotencyRecord {
  jobId: string;
  /** sha256 of the request (type, payload, the job's own timeout): the same key with another request is a 422. */
  requestHash: string;
  /** The `queued` event's sequence once the job is stored; null while the first request is storing it. */
  eventId: number | null;
  claimedAt: number;
}

export function validateIdempotencyKey(key: string): void {
  if (key.length === 0 || key.length > MAX_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
    throw new InvalidInputError(
      `Idempotency-Key must be 1 to ${MAX_KEY_LENGTH} visible ASCII characters`,
      "invalid_idempotency_key",
    );
  }
}

/** KV key: the client id (safe by construction) and a hash of the caller's key (any characters). */
export function idempotencyBucketKey(clientId: string, key: string): string {
  return `${clientId}.${createHash("sha256").update(key).digest("base64url")}`;
}

export function requestHash(type: string, payload: unknown, timeoutMs?: number, webhook?: WebhookTarget): string {
  // The job's own time limit and webhook are part of the request; without them the hash is what it
  // always was, so keys claimed before they existed still match their retries.
  const extra = {
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(webhook !== undefined ? { webhook } : {}),
  };
  const request = Object.keys(extra).length === 0 ? [type, payload ?? null] : [type, payload ?? null, extra];
  return createHash("sha256").update(JSON.stringify(request)).digest("base64url");
}

/**
 * Runs `enqueue` at most once per (client, Idempotency-Key) for as long as the bucket keeps the
 * key (RESULTS_MAX_AGE). The first request claims the key with a create-only write; concurrent
 * identical requests wait for the claimant's eventId and answer the same job. A claim whose
 * request died before storing the job is taken over after CLAIM_STALE_MS with a revision-checked
 * update, so exactly one request stores it (and enqueue itself is idempotent per jobId).
 * The design: docs/design.md, "Idempotency".
 */
export async function withIdempotency(
  kv: KV,
  bucketKey: string,
  fresh: { jobId: string; requestHash: string },
  enqueue: (jobId: string) => Promise<number>,
): Promise<{ jobId: string; eventId: number; replayed: boolean }> {
  const deadline = Date.now() + CLAIM_STALE_MS * 3;
  while (Date.now() < deadline) {
    const claim: IdempotencyRecord = { ...fresh, eventId: null, claimedAt: Date.now() };
    let revision: number | null = null;
    try {
      revision = await kv.create(bucketKey, JSON.stringify(claim));
    } catch (err) {
      if (!isJetStreamError(err, JetStreamErrorCode.WRONG_LAST_SEQUENCE)) throw err;
    }
    if (revision !== null) return { ...(await store(kv, bucketKey, claim, revision, enqueue)), replayed: false };

    const entry = await kv.get(bucketKey);
    if (entry?.operation !== "PUT") continue; // deleted meanwhile: claim again
    const existing = entry.json<IdempotencyRecord>();
    if (existing.requestHash !== fresh.requestHash) throw new IdempotencyMismatchError();
    if (existing.eventId !== null) return { jobId: existing.jobId, eventId: existing.eventId, replayed: true };
    if (Date.now() - existing.claimedAt > CLAIM_STALE_MS) {
      const takeover: IdempotencyRecord = { ...existing, claimedAt: Date.now() };
      try {
        const rev = await kv.update(bucketKey, JSON.stringify(takeover), entry.revision);
        return { ...(await store(kv, bucketKey, takeover, rev, enqueue)), replayed: true };
      } catch (err) {
        if (!isJetStreamError(err, JetStreamErrorCode.WRONG_LAST_SEQUENCE)) throw err;
        continue; // someone else took over first
      }
    }
    await sleep(POLL_MS);
  }
  throw new UnavailableError("another request with this Idempotency-Key is still being processed", "idempotency_busy");
}

async function store(
  kv: KV,
  bucketKey: string,
  claim: IdempotencyRecord,
  revision: number,
  enqueue: (jobId: string) => Promise<number>,
): Promise<{ jobId: string; eventId: number }> {
  let eventId: number;
  try {
    eventId = await enqueue(claim.jobId);
  } catch (err) {
    // Refused for certain (queue full): free the key so that the client's retry submits anew.
    // Anything else may have stored the job: keep the claim, so a retry takes over the same job.
    if (err instanceof QueueFullError || err instanceof TooManyQueuedJobsError)
      await kv.delete(bucketKey, { previousSeq: revision }).catch(() => undefined);
    throw err;
  }
  // If this fails (NATS blip, or a takeover after a very slow enqueue) the job is stored all the same;
  // a later request with this key takes the claim over and finds the same job (enqueue is idempotent).
  await kv.update(bucketKey, JSON.stringify({ ...claim, eventId }), revision).catch(() => undefined);
  return { jobId: claim.jobId, eventId };
}
