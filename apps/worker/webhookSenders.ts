import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { WEBHOOK_SENDERS_CONSUMER, WEBHOOKS_STREAM } from "../../libs/contracts/mod.ts";
import type { WebhookUrlPolicy } from "../../libs/webhooks/mod.ts";
import type { Metrics } from "../../libs/metrics/mod.ts";
import { sendWebhook } from "./sendWebhook.ts";
import { refreshEvery } from "./batchPull.ts";
import { fetchLoop } from "./fetchLoop.ts";
import { Slots } from "./slots.ts";

/** How webhooks are sent (WEBHOOK_* settings). */
export interface WebhookSenderOptions {
  policy: WebhookUrlPolicy;
  timeoutMs: number;
  /** The wait before attempt n+1 after attempt n failed; past the last entry, dead-lettered. */
  retryBackoffMs: number[];
  /** Attempts in flight at once in this process. */
  concurrency: number;
  /** Attempts in flight at once for one client in this process: one slow receiver cannot take every slot. */
  maxInFlightPerClient: number;
}

export interface WebhookSenderDeps {
  js: JetStreamClient;
  jsm: JetStreamManager;
  webhookConfig: KV;
  webhookStatus: KV;
  options: WebhookSenderOptions;
  log: Logger;
  metrics: Metrics;
}

export interface WebhookSenders {
  stop(): Promise<void>;
}

const GAUGE_REFRESH_MS = 5_000;

/**
 * The webhook senders every worker runs: pulls deliveries from the durable `webhook-senders`
 * consumer on WEBHOOKS and sends each (sendWebhook), at most `concurrency` at once and at most
 * `maxInFlightPerClient` for one client. A delivery whose client is at its bound is put back for
 * the time one attempt may take (a nak with that delay; not an attempt, which sendWebhook counts
 * from the delivery's recorded state), and the pull goes on to the next: one client's slow receiver
 * and long backlog never hold up another client's deliveries on this worker.
 * The design: docs/design.md, "Webhooks".
 */
export async function startWebhookSenders(deps: WebhookSenderDeps): Promise<WebhookSenders> {
  const { concurrency, maxInFlightPerClient } = deps.options;
  const consumer = await deps.js.consumers.get(WEBHOOKS_STREAM, WEBHOOK_SENDERS_CONSUMER);
  const slots = new Slots(concurrency);
  const perClient = new Map<string, number>();
  const running = new Set<Promise<unknown>>();
  // Long enough for one of the client's attempts to end; at least a second, so a long backlog of a
  // client at its bound is handed round at most once a second per delivery.
  const putBackMs = Math.max(1_000, deps.options.timeoutMs);

  const clientOf = (msg: JsMsg) => msg.subject.slice(msg.subject.indexOf(".") + 1);
  const take = (msg: JsMsg) => {
    const client = clientOf(msg);
    const n = perClient.get(client) ?? 0;
    if (n >= maxInFlightPerClient || !slots.take()) {
      msg.nak(putBackMs);
      deps.metrics.webhookDeliveries.inc({ outcome: "put_back" });
      return;
    }
    perClient.set(client, n + 1);
    const p = sendWebhook(deps, msg)
      .catch((err) => deps.log.warn({ err, seq: msg.seq }, "webhook attempt failed; the delivery comes back"))
      .finally(() => {
        running.delete(p);
        const left = (perClient.get(client) ?? 1) - 1;
        if (left > 0) perClient.set(client, left);
        else perClient.delete(client);
        slots.release();
      });
    running.add(p);
  };

  // Asks only for as many deliveries as there are free slots: none waits here while its ack timer runs.
  const pull = fetchLoop(consumer, {
    async size(stopping) {
      await slots.whenFree(stopping);
      return slots.free;
    },
    each: take,
    log: deps.log,
    what: "webhook senders",
  });

  const stopGauge = refreshEvery(async () => {
    deps.metrics.webhookBacklog.set((await deps.jsm.streams.info(WEBHOOKS_STREAM)).state.messages);
  }, GAUGE_REFRESH_MS);

  deps.log.info({ consumer: WEBHOOK_SENDERS_CONSUMER, concurrency }, "webhook senders started");
  return {
    async stop() {
      stopGauge();
      await pull.stop();
      // Attempts in flight finish (each at most the timeout).
      await Promise.allSettled([...running]);
    },
  };
}
