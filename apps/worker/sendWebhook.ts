import type { JsMsg } from "@nats-io/jetstream";
import type { WebhookDelivery } from "../../libs/contracts/mod.ts";
import {
  activeSecrets,
  attemptsSoFar,
  keepWebhookDeadLetter,
  readClientWebhook,
  readWebhookSecrets,
  postWebhook,
  recordWebhookStatus,
  unregisterGoneWebhook,
  WebhookUrlRefusedError,
  webhookHeaders,
  type WebhookAttemptState,
} from "../../libs/webhooks/mod.ts";
import type { WebhookSenderDeps } from "./webhookSenders.ts";

/** In-progress acks during an attempt: well inside the `webhook-senders` ack wait (15 s). */
const KEEP_ALIVE_MS = 5_000;

/** How one attempt ended, as the metrics and the status count it. */
export type WebhookOutcome = "delivered" | "retrying" | "dead_lettered" | "gone" | "dropped";

/**
 * One attempt of one delivery (a WEBHOOKS message), from the message to its settlement:
 * - a client webhook that was removed or replaced since the event is dropped (acked, not sent);
 * - sent signed with the client's current secrets (and the previous one inside its grace period),
 *   through postWebhook's address checks, 10 s timeout and 64 KiB answer cap;
 * - 2xx: delivered. 410 Gone: ends it, and unregisters the client's webhook if it is still that URL.
 *   A URL refused at connect time (it now resolves to a private address): dead-lettered at once.
 *   Anything else (another status, a timeout, a refused or reset connection): the next attempt after
 *   WEBHOOK_RETRY_BACKOFF[attempt - 1], or dead-lettered after the last.
 * The attempt number is counted from the delivery's recorded state (webhook_status); an attempt
 * cut short by a worker that died is not counted, and is made again.
 * The design: docs/design.md, "Webhooks".
 */
export async function sendWebhook(deps: WebhookSenderDeps, msg: JsMsg): Promise<WebhookOutcome> {
  const d = parseDelivery(msg);
  if (!d) {
    deps.log.error({ subject: msg.subject, seq: msg.seq }, "malformed webhook delivery; terminated");
    msg.term("malformed webhook delivery");
    return "dropped";
  }
  const [before, current, stored] = await Promise.all([
    // Attempts are counted from what earlier ones recorded, not from JetStream's delivery count: a
    // delivery put back for fairness (webhookSenders.ts), or held by a worker that died mid-attempt,
    // is no attempt.
    attemptsSoFar(deps.webhookStatus, d),
    // Read from the bucket, not a worker's memory: a removal or a rotation applies from the next attempt on.
    d.kind === "client" ? readClientWebhook(deps.webhookConfig, d.clientId) : null,
    readWebhookSecrets(deps.webhookConfig, d.clientId),
  ]);
  const attempt = before + 1;
  const log = deps.log.child({ webhookId: d.webhookId, jobId: d.jobId, attempt });
  if (d.kind === "client" && current?.url !== d.url) {
    msg.ack();
    await settle(deps, d, { state: "dropped", attempts: attempt - 1 });
    log.info("client webhook removed or replaced since the event; delivery dropped");
    return "dropped";
  }
  const secrets = stored ? activeSecrets(stored) : [];
  if (secrets.length === 0) {
    return deadLetter(deps, msg, d, attempt, {
      code: "webhook_secret_missing",
      message: "the client has no webhook secret",
    });
  }

  const started = performance.now();
  let status: number | null = null;
  let failure: { code: string; message: string; status?: number };
  try {
    const headers = {
      ...webhookHeaders({ id: d.webhookId, timestamp: Math.floor(Date.now() / 1000), body: d.body, secrets }),
      "herald-event": `job.${d.event}`,
      "herald-event-id": String(d.eventId),
      // 1 for the first: with the same webhook-id, a receiver sees which try this is.
      "herald-attempt": String(attempt),
    };
    // The attempt may outlast the consumer's ack wait (15 s; WEBHOOK_TIMEOUT may be up to 60 s):
    // tell JetStream it is still ours, so that no other worker sends it meanwhile.
    const keepAlive = setInterval(() => msg.working(), KEEP_ALIVE_MS);
    const res = await postWebhook(new URL(d.url), {
      body: d.body,
      headers,
      policy: deps.options.policy,
      timeoutMs: deps.options.timeoutMs,
    }).finally(() => clearInterval(keepAlive));
    status = res.status;
    deps.metrics.webhookAttemptSeconds.observe({ result: `${Math.floor(status / 100)}xx` }, res.durationMs / 1000);
    if (status >= 200 && status < 300) {
      msg.ack();
      deps.metrics.webhookDeliveries.inc({ outcome: "delivered" });
      await settle(deps, d, { state: "delivered", attempts: attempt, status });
      log.debug({ status }, "webhook delivered");
      return "delivered";
    }
    if (status === 410) return gone(deps, msg, d, attempt, log);
    failure = {
      code: "webhook_failed",
      message: `the receiver answered ${status}: ${res.excerpt.slice(0, 200)}`,
      status,
    };
  } catch (err) {
    const e = err as Error & { code?: string };
    const seconds = (performance.now() - started) / 1000;
    if (err instanceof WebhookUrlRefusedError) {
      deps.metrics.webhookAttemptSeconds.observe({ result: "refused" }, seconds);
      return deadLetter(deps, msg, d, attempt, { code: err.code, message: err.message });
    }
    deps.metrics.webhookAttemptSeconds.observe(
      { result: e.code === "webhook_timeout" ? "timeout" : "network" },
      seconds,
    );
    failure = { code: e.code ?? "webhook_failed", message: e.message };
  }

  const delay = deps.options.retryBackoffMs[attempt - 1];
  if (delay === undefined) return deadLetter(deps, msg, d, attempt, failure);
  // Recorded before the nak: the next attempt, on any worker, counts from it.
  await settle(deps, d, {
    state: "retrying",
    attempts: attempt,
    ...(status !== null ? { status } : {}),
    error: failure,
    nextAttemptAt: new Date(Date.now() + delay).toISOString(),
  });
  msg.nak(delay);
  deps.metrics.webhookDeliveries.inc({ outcome: "retrying" });
  log.info({ error: failure, retryInMs: delay }, "webhook attempt failed; retrying");
  return "retrying";
}

async function gone(
  deps: WebhookSenderDeps,
  msg: JsMsg,
  d: WebhookDelivery,
  attempt: number,
  log: WebhookSenderDeps["log"],
): Promise<WebhookOutcome> {
  const unregistered = d.kind === "client" && (await unregisterGoneWebhook(deps.webhookConfig, d.clientId, d.url));
  msg.ack();
  deps.metrics.webhookDeliveries.inc({ outcome: "gone" });
  await settle(deps, d, { state: "gone", attempts: attempt, status: 410 });
  log.info({ unregistered }, "webhook receiver answered 410 Gone");
  return "gone";
}

async function deadLetter(
  deps: WebhookSenderDeps,
  msg: JsMsg,
  d: WebhookDelivery,
  attempts: number,
  error: { code: string; message: string; status?: number },
): Promise<WebhookOutcome> {
  // Kept before the ack: a worker that dies in between sends once more, never loses it.
  await keepWebhookDeadLetter(deps.js, { delivery: d, attempts, error, failedAt: new Date().toISOString() });
  msg.ack();
  deps.metrics.webhookDeliveries.inc({ outcome: "dead_lettered" });
  await settle(deps, d, { state: "failed", attempts, ...(error.status ? { status: error.status } : {}), error });
  deps.log.warn(
    { webhookId: d.webhookId, jobId: d.jobId, attempts, error },
    "webhook delivery failed for good; dead-lettered",
  );
  return "dead_lettered";
}

/**
 * Records the delivery's state: its attempts (the next attempt counts from them) and what GET
 * /v1/jobs/:id/webhooks shows. A failure to record is logged; the next attempt then counts one less.
 */
async function settle(
  deps: WebhookSenderDeps,
  d: WebhookDelivery,
  s: Omit<WebhookAttemptState, "webhookId" | "event" | "eventId" | "url" | "kind" | "at">,
): Promise<void> {
  try {
    await recordWebhookStatus(deps.webhookStatus, d, {
      webhookId: d.webhookId,
      kind: d.kind,
      url: d.url,
      event: d.event,
      eventId: d.eventId,
      at: new Date().toISOString(),
      ...s,
    });
  } catch (err) {
    deps.log.warn({ err, webhookId: d.webhookId }, "could not record a webhook's status");
  }
}

function parseDelivery(msg: JsMsg): WebhookDelivery | null {
  try {
    const d = msg.json<WebhookDelivery>();
    return typeof d.webhookId === "string" && typeof d.url === "string" && typeof d.body === "string" ? d : null;
  } catch {
    return null;
  }
}
