import type { Consumer, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "pino";
import type { Slots } from "./slots.ts";
import { fetchLoop } from "./fetchLoop.ts";

export interface ConsumerPull {
  /** Stops pulling; deliveries already handed to `run` go on. */
  stop(): Promise<void>;
}

/**
 * Pulls jobs from one consumer for as long as the worker runs: waits for a free slot, asks for at
 * most as many jobs as there are free slots (and `maxBatch`), so that no job waits in this
 * process's buffer while its ack timer runs. A job that arrives when the worker's other pulls have
 * filled its slots meanwhile is handed back at once (a nak without delay), for another worker or
 * this one's next pull: holding it would hold up a job another worker could start now.
 * The design: docs/design.md, "Concurrency per type".
 */
export function pullFromConsumer(
  consumer: Consumer,
  opts: {
    slots: Slots;
    /** The most jobs one pull asks for (a capped type's cap: more could never come). */
    maxBatch: number;
    /** Runs a delivery that took a slot; it must release the slot when the delivery ends. */
    run(msg: JsMsg): void;
    /** A delivery that found no free slot. */
    handedBack(msg: JsMsg): void;
    log: Logger;
  },
): ConsumerPull {
  return fetchLoop(consumer, {
    async size(stopping) {
      await opts.slots.whenFree(stopping);
      return Math.min(opts.slots.free, opts.maxBatch);
    },
    each(msg) {
      if (opts.slots.take()) opts.run(msg);
      else {
        msg.nak();
        opts.handedBack(msg);
      }
    },
    log: opts.log,
    what: "jobs",
  });
}
