import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import {
  webhookDeadLetterSubject,
  webhookDeliverySubject,
  WEBHOOKS_DLQ_STREAM,
  type WebhookDeadLetter,
  type WebhookDelivery,
} from "../contracts/mod.ts";
import { isJetStreamError, JetStreamErrorCode, readStoredMessages } from "../nats/mod.ts";

/**
 * WEBHOOKS and WEBHOOKS_DLQ: a delivery is queued once per event and target (Msg-Id = its
 * webhook-id, so a dispatcher that handles an event twice queues it once inside the 2-minute
 * window, and past it the receiver drops the repeat by its webhook-id), and kept as a dead letter
 * when it fails for good (docs/design.md, "Webhooks").
 */

/** JetStream refused the delivery for certain: the client's backlog (or WEBHOOKS) is full. */
export class WebhookBacklogFullError extends Error {
  readonly code = "webhook_backlog_full";
  constructor(clientId: string, options?: ErrorOptions) {
    super(`the webhook backlog of client ${clientId} is full`, options);
    this.name = "WebhookBacklogFullError";
  }
}

export async function queueDelivery(js: JetStreamClient, d: WebhookDelivery, msgId = d.webhookId): Promise<void> {
  try {
    await js.publish(webhookDeliverySubject(d.clientId), JSON.stringify(d), { msgID: msgId });
  } catch (err) {
    if (isJetStreamError(err, JetStreamErrorCode.MAXIMUM_MESSAGES_EXCEEDED)) {
      throw new WebhookBacklogFullError(d.clientId, { cause: err });
    }
    throw err;
  }
}

export async function keepWebhookDeadLetter(js: JetStreamClient, letter: WebhookDeadLetter): Promise<void> {
  await js.publish(webhookDeadLetterSubject(letter.delivery.clientId), JSON.stringify(letter), {
    msgID: `${letter.delivery.webhookId}.dlq`,
  });
}

export interface StoredWebhookDeadLetter extends WebhookDeadLetter {
  seq: number;
}

/** The webhook dead letters stored when the read began, oldest first, read one at a time. */
export async function* readWebhookDeadLetters(jsm: JetStreamManager): AsyncGenerator<StoredWebhookDeadLetter> {
  for await (const m of readStoredMessages(jsm, WEBHOOKS_DLQ_STREAM, "webhooks-dlq.*")) {
    yield { ...m.json<WebhookDeadLetter>(), seq: m.seq };
  }
}

/**
 * Queues a dead letter's delivery again, with the same webhook-id (a receiver that got it after
 * all drops it), and removes the letter. Its Msg-Id is new, so that WEBHOOKS does not take it for
 * the first queueing inside the duplicate window.
 */
export async function resendWebhookDeadLetter(
  deps: { js: JetStreamClient; jsm: JetStreamManager },
  letter: StoredWebhookDeadLetter,
): Promise<void> {
  await queueDelivery(deps.js, letter.delivery, `${letter.delivery.webhookId}.resend.${letter.seq}`);
  await deps.jsm.streams.deleteMessage(WEBHOOKS_DLQ_STREAM, letter.seq, false);
}
