import type { Consumer, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";

export interface BatchPull {
  /** Stops pulling and waits for the deliveries in hand; anything unsettled comes back after ack_wait. */
  stop(): Promise<void>;
}

const FETCH_EXPIRES_MS = 5_000;
const RETRY_AFTER_FAILED_FETCH_MS = 500;

/**
 * Pulls a consumer in batches of `batch` and settles each delivery with `handle`, at most
 * `inFlight` at once: for the loops whose deliveries each take milliseconds and need no slot of
 * the worker's (the scheduler, the webhook dispatcher). A handler that throws leaves its delivery
 * unsettled, to come back after the consumer's ack wait; that is logged as `failed`.
 */
export function pullInBatches(
  consumer: Consumer,
  opts: { batch: number; inFlight: number; handle(msg: JsMsg): Promise<unknown>; log: Logger; what: string },
): BatchPull {
  const pulling = new AbortController();
  const inFlight = new Set<Promise<unknown>>();
  let batch: ConsumerMessages | null = null;

  const launch = (msg: JsMsg) => {
    const p = opts
      .handle(msg)
      .catch((err) => opts.log.warn({ err, seq: msg.seq }, `${opts.what} failed; left for redelivery`))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  const loop = (async () => {
    while (!pulling.signal.aborted) {
      try {
        batch = await consumer.fetch({ max_messages: opts.batch, expires: FETCH_EXPIRES_MS });
        for await (const msg of batch) {
          launch(msg);
          while (inFlight.size >= opts.inFlight) await Promise.race(inFlight);
        }
      } catch (err) {
        if (pulling.signal.aborted) break;
        opts.log.warn({ err }, `${opts.what} fetch failed; retrying`);
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
      await Promise.allSettled([...inFlight]);
    },
  };
}

/**
 * Sets a gauge from `read` now and every `everyMs` (a JetStream figure: a stream's messages); NATS
 * trouble keeps the last value. Returns the stop.
 */
export function refreshEvery(read: () => Promise<void>, everyMs: number): () => void {
  const refresh = () => read().catch(() => undefined);
  void refresh();
  const timer = setInterval(refresh, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
