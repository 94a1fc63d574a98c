import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { WEBHOOK_SENDERS_CONSUMER, WEBHOOKS_STREAM } from "../../libs/contracts/mod.ts";
import type { WebhookUrlPolicy } from "../../libs/webhooks/mod.ts";
import type { Metrics } from "../../libs/metrics/mod.ts";
import { KEEP_ALIVE_MS, sendWebhook } from "./sendWebhook.ts";
import { refreshEvery } from "./batchPull.ts";

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

const FETCH_EXPIRES_MS = 5_000;
const GAUGE_REFRESH_MS = 5_000;

/**
 * The webhook senders every worker runs: pulls deliveries from the durable `webhook-senders`
 * consumer on WEBHOOKS and sends each (sendWebhook), at most `concurrency` at once and at most
 * `maxInFlightPerClient` for one client. A delivery whose client is at its bound waits here, kept
 * alive with in-progress acks, rather than being handed back: a nak would count as an attempt.
 * The design: docs/design.md, "Webhooks".
 */
export async function startWebhookSenders(deps: WebhookSenderDeps): Promise<WebhookSenders> {
  const { concurrency, maxInFlightPerClient } = deps.options;
  const consumer = await deps.js.consumers.get(WEBHOOKS_STREAM, WEBHOOK_SENDERS_CONSUMER);
  const pulling = new AbortController();
  const held: JsMsg[] = [];
  const perClient = new Map<string, number>();
  const running = new Set<Promise<unknown>>();
  let batch: ConsumerMessages | null = null;
  let wake: (() => void) | null = null;

  const clientOf = (msg: JsMsg) => msg.subject.slice(msg.subject.indexOf(".") + 1);
  const startHeld = () => {
    for (let i = 0; i < held.length && running.size < concurrency; ) {
      const msg = held[i]!;
      const client = clientOf(msg);
      const n = perClient.get(client) ?? 0;
      if (n >= maxInFlightPerClient) {
        i++;
        continue;
      }
      held.splice(i, 1);
      perClient.set(client, n + 1);
      const p = sendWebhook(deps, msg)
        .catch((err) => deps.log.warn({ err, seq: msg.seq }, "webhook attempt failed; the delivery comes back"))
        .finally(() => {
          running.delete(p);
          const left = (perClient.get(client) ?? 1) - 1;
          if (left > 0) perClient.set(client, left);
          else perClient.delete(client);
          startHeld();
          wake?.();
        });
      running.add(p);
    }
  };

  const loop = (async () => {
    while (!pulling.signal.aborted) {
      const room = concurrency - running.size - held.length;
      if (room <= 0) {
        await new Promise<void>((r) => (wake = r));
        wake = null;
        continue;
      }
      try {
        batch = await consumer.fetch({ max_messages: room, expires: FETCH_EXPIRES_MS });
        for await (const msg of batch) {
          held.push(msg);
          startHeld();
        }
      } catch (err) {
        if (pulling.signal.aborted) break;
        deps.log.warn({ err }, "webhook fetch failed; retrying");
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        batch = null;
      }
    }
  })();

  // A held delivery waits for its client's attempts in flight (each at most the timeout): keep it ours.
  const keepAlive = setInterval(() => {
    for (const msg of held) msg.working();
  }, KEEP_ALIVE_MS);
  keepAlive.unref();

  const stopGauge = refreshEvery(async () => {
    deps.metrics.webhookBacklog.set((await deps.jsm.streams.info(WEBHOOKS_STREAM)).state.messages);
  }, GAUGE_REFRESH_MS);

  deps.log.info({ consumer: WEBHOOK_SENDERS_CONSUMER, concurrency }, "webhook senders started");
  return {
    async stop() {
      stopGauge();
      pulling.abort();
      wake?.();
      await (batch as ConsumerMessages | null)?.close();
      await loop;
      // Held deliveries go back at once (not after ack_wait); attempts in flight finish (each ≤ the timeout).
      for (const msg of held.splice(0)) msg.nak();
      clearInterval(keepAlive);
      await Promise.allSettled([...running]);
    },
  };
}
