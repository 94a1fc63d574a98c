import type { Consumer, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import { fetchLoop } from "./fetchLoop.ts";

export interface BatchPull {
  /** Stops pulling and waits for the deliveries in hand; anything unsettled comes back after ack_wait. */
  stop(): Promise<void>;
}

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
  const inFlight = new Set<Promise<unknown>>();
  const pull = fetchLoop(consumer, {
    size: () => opts.batch,
    async each(msg) {
      const p = opts
        .handle(msg)
        .catch((err) => opts.log.warn({ err, seq: msg.seq }, `${opts.what} failed; left for redelivery`))
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      while (inFlight.size >= opts.inFlight) await Promise.race(inFlight);
    },
    log: opts.log,
    what: opts.what,
  });
  return {
    async stop() {
      await pull.stop();
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
