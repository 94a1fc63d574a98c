import type { KV } from "@nats-io/kv";
import type { JobEventName, WebhookDelivery, WebhookKind } from "../contracts/mod.ts";

/**
 * The state of each webhook delivery (`<clientId>.<jobId>.<kind>.<eventId>` in the
 * `webhook_status` bucket, kept as long as results are): its attempts so far, which is what the
 * sender counts attempts from (a delivery put back for fairness, or held by a worker that died
 * mid-attempt, is no attempt), and what `GET /v1/jobs/:id/webhooks` and the web page show.
 * Written by the senders after each attempt.
 */
export interface WebhookAttemptState {
  webhookId: string;
  kind: WebhookKind;
  url: string;
  event: JobEventName;
  eventId: number;
  state: "delivered" | "retrying" | "failed" | "gone" | "dropped";
  attempts: number;
  /** The receiver's HTTP status, when it answered. */
  status?: number;
  error?: { code: string; message: string };
  nextAttemptAt?: string;
  at: string;
}

const key = (d: Pick<WebhookDelivery, "clientId" | "jobId" | "kind" | "eventId">) =>
  `${d.clientId}.${d.jobId}.${d.kind}.${d.eventId}`;

export async function recordWebhookStatus(
  kv: KV,
  d: Pick<WebhookDelivery, "clientId" | "jobId" | "kind" | "eventId">,
  state: WebhookAttemptState,
): Promise<void> {
  await kv.put(key(d), JSON.stringify(state));
}

/** The attempts a delivery has had (0 before its first). */
export async function attemptsSoFar(
  kv: KV,
  d: Pick<WebhookDelivery, "clientId" | "jobId" | "kind" | "eventId">,
): Promise<number> {
  const e = await kv.get(key(d));
  return e && e.operation === "PUT" ? e.json<WebhookAttemptState>().attempts : 0;
}

/** Every delivery of the job, in event order (its own webhook's before its client's for one event). */
export async function readWebhookStatus(kv: KV, clientId: string, jobId: string): Promise<WebhookAttemptState[]> {
  const keys: string[] = [];
  for await (const k of await kv.keys(`${clientId}.${jobId}.>`)) keys.push(k);
  const states = await Promise.all(keys.map((k) => kv.get(k)));
  return states
    .flatMap((e) => (e && e.operation === "PUT" ? [e.json<WebhookAttemptState>()] : []))
    .sort((a, b) => a.eventId - b.eventId || (a.kind === b.kind ? 0 : a.kind === "job" ? -1 : 1));
}
