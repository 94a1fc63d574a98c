import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import {
  eventNameOf,
  JOB_WEBHOOK_HEADER,
  jobWebhookOf,
  RESULTS_STREAM,
  WEBHOOK_DISPATCH_CONSUMER,
  webhookIdOf,
  webhookWants,
  type WebhookDelivery,
  type WebhookKind,
  type WebhookTarget,
} from "../../libs/contracts/mod.ts";
import {
  keepWebhookDeadLetter,
  queueDelivery,
  WebhookBacklogFullError,
  type WebhookDirectory,
} from "../../libs/webhooks/mod.ts";
import type { Metrics } from "../../libs/metrics/mod.ts";
import { pullInBatches } from "./batchPull.ts";

export interface WebhookDispatch {
  stop(): Promise<void>;
}

const FETCH_BATCH = 256;
const IN_FLIGHT = 32;

type DispatchDeps = { js: JetStreamClient; directory: WebhookDirectory; log: Logger; metrics: Metrics };

/**
 * The webhook dispatcher every worker runs: pulls each event RESULTS stores (durable consumer
 * `webhook-dispatch`, from the moment it was first provisioned) and queues one delivery per target
 * that wants it in WEBHOOKS, then acks. The event log is the outbox: a process that dies between an
 * event and its deliveries loses nothing, because the consumer hands the event out again; the
 * repeat is queued once (Msg-Id = webhook-id) or dropped by the receiver (same webhook-id).
 * The design: docs/design.md, "Webhooks".
 */
export async function startWebhookDispatch(deps: DispatchDeps): Promise<WebhookDispatch> {
  const consumer = await deps.js.consumers.get(RESULTS_STREAM, WEBHOOK_DISPATCH_CONSUMER);
  return pullInBatches(consumer, {
    batch: FETCH_BATCH,
    inFlight: IN_FLIGHT,
    handle: (msg) => dispatchEvent(deps, msg),
    log: deps.log,
    what: "webhook dispatch",
  });
}

/** One stored event: its deliveries queued (or kept as dead letters if the backlog is full), then acked. */
export async function dispatchEvent(deps: DispatchDeps, msg: JsMsg): Promise<number> {
  // results.<clientId>.<jobId>
  const [, clientId, jobId] = msg.subject.split(".");
  const jobTarget = jobWebhookOf(msg.headers?.get(JOB_WEBHOOK_HEADER));
  const clientTarget = clientId ? deps.directory.clientWebhook(clientId) : null;
  if (!clientId || !jobId || (!jobTarget && !clientTarget)) {
    msg.ack();
    return 0;
  }
  const body = msg.string();
  const event = eventNameOf(body);
  if (!event) {
    msg.ack();
    return 0;
  }
  const targets: [WebhookKind, WebhookTarget | null][] = [
    ["job", jobTarget],
    ["client", clientTarget],
  ];
  let queued = 0;
  for (const [kind, target] of targets) {
    if (!target || !webhookWants(target, event)) continue;
    const delivery: WebhookDelivery = {
      webhookId: webhookIdOf(jobId, msg.seq, kind),
      kind,
      url: target.url,
      clientId,
      jobId,
      eventId: msg.seq,
      event,
      body,
      enqueuedAt: new Date().toISOString(),
    };
    try {
      await queueDelivery(deps.js, delivery);
      deps.metrics.webhookDeliveries.inc({ outcome: "queued" });
      queued++;
    } catch (err) {
      if (!(err instanceof WebhookBacklogFullError)) throw err;
      // Refused for certain: kept where an operator sees it, not dropped without a trace.
      await keepWebhookDeadLetter(deps.js, {
        delivery,
        attempts: 0,
        error: { code: err.code, message: err.message },
        failedAt: new Date().toISOString(),
      });
      deps.metrics.webhookDeliveries.inc({ outcome: "dead_lettered" });
      deps.log.warn({ clientId, webhookId: delivery.webhookId }, "webhook backlog full; delivery dead-lettered");
    }
  }
  msg.ack();
  return queued;
}
