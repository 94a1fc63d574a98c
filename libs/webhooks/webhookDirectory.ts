import { KvWatchInclude, type KV, type KvEntry } from "@nats-io/kv";
import type { Logger } from "pino";
import type { WebhookTarget } from "../contracts/mod.ts";

/**
 * Every client's webhook, held in memory and kept current from the `webhooks` bucket: the
 * dispatcher looks up a client's webhook for every stored event, which must not cost a JetStream
 * request each. (The senders read a client's webhook and secrets from the bucket itself, once per
 * attempt: a rotation or a removal applies to the next attempt, on any worker.)
 * A watch of updates starts first; then the bucket's current keys are read; an update newer than
 * what was read wins. So nothing written after `load()` begins is missed, and `load()` resolves
 * only once the whole bucket is known. A webhook registered is known here within the watch's
 * delay (milliseconds): events stored before that are not sent to it (docs/design.md, "Webhooks").
 * Memory: one entry per client that has (or had) a webhook.
 */
export class WebhookDirectory {
  #kv: KV;
  #log: Logger;
  #webhooks = new Map<string, { revision: number; target: WebhookTarget | null }>();
  #count = 0;
  #onCount: (n: number) => void;
  #stop: (() => void) | null = null;

  /** `onCount` hears how many clients have a webhook, after every change (a gauge on /metrics). */
  constructor(kv: KV, log: Logger, onCount: (n: number) => void = () => undefined) {
    this.#kv = kv;
    this.#log = log;
    this.#onCount = onCount;
  }

  async load(): Promise<void> {
    const updates = await this.#kv.watch({ key: "client.>", include: KvWatchInclude.UpdatesOnly });
    this.#stop = () => updates.stop();
    void (async () => {
      for await (const e of updates) this.#apply(e);
    })().catch((err) => this.#log.warn({ err }, "webhook settings watch ended"));
    const keys: string[] = [];
    for await (const k of await this.#kv.keys("client.>")) keys.push(k);
    await Promise.all(
      keys.map(async (k) => {
        const e = await this.#kv.get(k);
        if (e) this.#apply(e);
      }),
    );
    this.#onCount(this.#count);
  }

  stop(): void {
    this.#stop?.();
  }

  /** The client's webhook, or null. */
  clientWebhook(clientId: string): WebhookTarget | null {
    return this.#webhooks.get(clientId)?.target ?? null;
  }

  #apply(e: KvEntry): void {
    const clientId = e.key.slice("client.".length);
    const held = this.#webhooks.get(clientId);
    if (held && held.revision >= e.revision) return;
    const target = e.operation === "PUT" ? e.json<WebhookTarget>() : null;
    this.#count += (target ? 1 : 0) - (held?.target ? 1 : 0);
    this.#webhooks.set(clientId, { revision: e.revision, target });
    this.#onCount(this.#count);
  }
}
