import type { Consumer, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";

export interface FetchLoop {
  /** Stops pulling (a fetch in progress is closed) and waits for the loop; what `each` started is the caller's. */
  stop(): Promise<void>;
}

const FETCH_EXPIRES_MS = 5_000;
const RETRY_AFTER_FAILED_FETCH_MS = 500;

/**
 * The pull loop under every consumer a worker reads (its jobs, each capped type's, the scheduler,
 * the webhook dispatcher and senders): asks `size` how many deliveries to fetch next (it may wait,
 * for a free slot, say, and is given the loop's stop signal), fetches at most that many, and hands
 * each to `each` in order, waiting for it when it returns a promise (room to take another). A fetch
 * that fails is logged and tried again shortly; a stop ends it.
 */
export function fetchLoop(
  consumer: Consumer,
  opts: {
    size(stopping: AbortSignal): number | Promise<number>;
    each(msg: JsMsg): unknown;
    log: Logger;
    /** What the loop pulls, for its log lines ("jobs", "webhook dispatch", …). */
    what: string;
  },
): FetchLoop {
  const pulling = new AbortController();
  let batch: ConsumerMessages | null = null;

  const loop = (async () => {
    while (!pulling.signal.aborted) {
      const size = await opts.size(pulling.signal);
      if (pulling.signal.aborted) break;
      try {
        batch = await consumer.fetch({ max_messages: Math.max(1, size), expires: FETCH_EXPIRES_MS });
        for await (const msg of batch) await opts.each(msg);
      } catch (err) {
        if (pulling.signal.aborted) break;
        opts.log.warn({ err }, `${opts.what}: fetch failed; retrying`);
        await new Promise((r) => setTimeout(r, RETRY_AFTER_FAILED_FETCH_MS));
      } finally {
        batch = null;
      }
    }
  })();

  return {
    async stop() {
      pulling.abort();
      await (batch as ConsumerMessages | null)?.close();
      await loop;
    },
  };
}
