import type { KV } from "@nats-io/kv";
import type { JobEventName, WebhookKind } from "../contracts/mod.ts";

/**
 * The latest state of a job's webhook deliveries, one per target (`<clientId>.<jobId>.<kind>` in the
 * `webhook_status` bucket, kept as long as results are): what `GET /v1/jobs/:id/webhooks` and the
 * web page show. Written by the senders after each attempt; a status, not the delivery itself (that
 * is WEBHOOKS, and WEBHOOKS_DLQ when it failed for good).
 */
export interface WebhookAttemptState {
  webhookId: string;
  kind: WebhookKind;
  url: string;
  /** The event the latest delivery carried. */
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

const key = (clientId: string, jobId: string, kind: WebhookKind) => `${clientId}.${jobId}.${kind}`;

export async function recordWebhookStatus(
  kv: KV,
  clientId: string,
  jobId: string,
  kind: WebhookKind,
  state: WebhookAttemptState,
): Promise<void> {
  await kv.put(key(clientId, jobId, kind), JSON.stringify(state));
}

/** The job's delivery states, the job's own webhook first; [] when it has none. */
export async function readWebhookStatus(kv: KV, clientId: string, jobId: string): Promise<WebhookAttemptState[]> {
  const found: WebhookAttemptState[] = [];
  for (const kind of ["job", "client"] as const) {
    const e = await kv.get(key(clientId, jobId, kind));
    if (e && e.operation === "PUT") found.push(e.json<WebhookAttemptState>());
  }
  return found;
}
