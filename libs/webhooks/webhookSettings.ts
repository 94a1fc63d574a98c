import type { KV } from "@nats-io/kv";
import type { WebhookTarget } from "../contracts/mod.ts";
import { newWebhookSecret } from "./signature.ts";
import { isJetStreamError, JetStreamErrorCode } from "../nats/mod.ts";

/**
 * A client's webhook settings in the `webhooks` bucket: `client.<clientId>` is its webhook (a
 * WebhookTarget), `secret.<clientId>` its signing secrets. Keys are per client, so no two clients
 * ever write the same key (docs/design.md, "Webhooks").
 */

/** A client's signing secrets: the current one, and after a rotation the one before, until `previousUntil`. */
export interface WebhookSecrets {
  current: string;
  previous: string | null;
  /** ISO-8601: until then the previous secret signs too (a second signature in the header). */
  previousUntil: string | null;
  rotatedAt: string;
}

const clientKey = (clientId: string) => `client.${clientId}`;
const secretKey = (clientId: string) => `secret.${clientId}`;

export async function readClientWebhook(kv: KV, clientId: string): Promise<WebhookTarget | null> {
  const e = await kv.get(clientKey(clientId));
  return e && e.operation === "PUT" ? e.json<WebhookTarget>() : null;
}

export async function putClientWebhook(kv: KV, clientId: string, target: WebhookTarget): Promise<void> {
  await kv.put(clientKey(clientId), JSON.stringify(target));
}

export async function deleteClientWebhook(kv: KV, clientId: string): Promise<void> {
  await kv.delete(clientKey(clientId));
}

/**
 * Unregisters a client's webhook after its receiver answered 410 Gone, but only if it is still the
 * URL that answered: a client that registered another one meanwhile keeps it. Returns whether it
 * was removed.
 */
export async function unregisterGoneWebhook(kv: KV, clientId: string, url: string): Promise<boolean> {
  const e = await kv.get(clientKey(clientId));
  if (e?.operation !== "PUT" || e.json<WebhookTarget>().url !== url) return false;
  try {
    // Only the revision read: a PUT in between wins.
    await kv.delete(clientKey(clientId), { previousSeq: e.revision });
    return true;
  } catch {
    return false;
  }
}

export async function readWebhookSecrets(kv: KV, clientId: string): Promise<WebhookSecrets | null> {
  const e = await kv.get(secretKey(clientId));
  return e && e.operation === "PUT" ? e.json<WebhookSecrets>() : null;
}

/**
 * Creates the client's first secret, or rotates it: the new one signs from now on, and the one it
 * replaces goes on signing for `graceMs` (both signatures in the header), so that a receiver can
 * switch without dropping a delivery. Compare-and-set on the key's revision, retried: two rotations
 * at once both return a secret that was current, and the older of them is kept as the previous one.
 */
export async function rotateWebhookSecret(
  kv: KV,
  clientId: string,
  graceMs: number,
  now = Date.now(),
): Promise<string> {
  for (let i = 0; i < 10; i++) {
    const e = await kv.get(secretKey(clientId));
    const old = e && e.operation === "PUT" ? e.json<WebhookSecrets>() : null;
    const secret = newWebhookSecret();
    const next: WebhookSecrets = {
      current: secret,
      previous: old?.current ?? null,
      previousUntil: old ? new Date(now + graceMs).toISOString() : null,
      rotatedAt: new Date(now).toISOString(),
    };
    try {
      if (e) await kv.update(secretKey(clientId), JSON.stringify(next), e.revision);
      else await kv.create(secretKey(clientId), JSON.stringify(next));
      return secret;
    } catch (err) {
      // Another rotation came first: read it and rotate again. Anything else (NATS away) is not ours to retry.
      if (!isJetStreamError(err, JetStreamErrorCode.WRONG_LAST_SEQUENCE)) throw err;
    }
  }
  throw new Error(`could not rotate the webhook secret of ${clientId}: too many concurrent rotations`);
}

/** The secrets that sign now, newest first: the current one, and the previous one inside its grace period. */
export function activeSecrets(s: WebhookSecrets, now = Date.now()): string[] {
  return s.previous && s.previousUntil && Date.parse(s.previousUntil) > now ? [s.current, s.previous] : [s.current];
}
