import { setMaxListeners } from "node:events";
import type { ConsumerMessages } from "@nats-io/jetstream";
import { JOBS_STREAM, WORKERS_CONSUMER } from "../../libs/contracts/mod.ts";
import type { WorkerDeps } from "./deps.ts";
import { runDelivery } from "./runDelivery.ts";
import { startScheduler } from "./scheduler.ts";

export interface Worker {
  /**
   * Graceful stop: no more pulls; running jobs get `graceMs` to finish; whatever still runs then is
   * aborted (ctx.signal, reason "shutdown") and nak'ed, so another worker takes it at once.
   */
  stop(graceMs?: number): Promise<void>;
}

const FETCH_EXPIRES_MS = 5_000;

/**
 * Pulls jobs from the durable `workers` consumer and runs at most `concurrency` at once. It asks
 * only for as many messages as it has free slots, so no job waits in this process's buffer while
 * its ack timer runs.
 * The design: docs/design.md, "worker".
 */
export async function startWorker(deps: WorkerDeps, concurrency: number): Promise<Worker> {
  const consumer = await deps.js.consumers.get(JOBS_STREAM, WORKERS_CONSUMER);
  const pulling = new AbortController();
  const shutdown = new AbortController();
  // Each running job listens on the shutdown signal (and removes its listener when it ends):
  // up to `concurrency` listeners is expected, not the leak Node warns about past 10.
  setMaxListeners(concurrency + 10, shutdown.signal);
  const running = new Set<Promise<unknown>>();
  let slotFreed: (() => void) | null = null;
  let batch: ConsumerMessages | null = null;

  const launch = (msg: Parameters<typeof runDelivery>[1]) => {
    const p = runDelivery(deps, msg, shutdown.signal)
      .catch((err) => deps.log.error({ err, seq: msg.seq }, "delivery failed; left for redelivery"))
      .finally(() => {
        running.delete(p);
        slotFreed?.();
      });
    running.add(p);
  };

  const loop = (async () => {
    while (!pulling.signal.aborted) {
      if (running.size >= concurrency) {
        await new Promise<void>((r) => (slotFreed = r));
        slotFreed = null;
        continue;
      }
      try {
        batch = await consumer.fetch({ max_messages: concurrency - running.size, expires: FETCH_EXPIRES_MS });
        for await (const msg of batch) launch(msg);
      } catch (err) {
        if (pulling.signal.aborted) break;
        deps.log.warn({ err }, "fetch failed; retrying");
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        batch = null;
      }
    }
  })();

  // Every worker also moves scheduled jobs into JOBS when they are due (scheduler.ts says why).
  const scheduler = await startScheduler(deps);
  deps.log.info({ concurrency, consumer: WORKERS_CONSUMER }, "worker started");
  return {
    async stop(graceMs = 0) {
      await scheduler.stop();
      pulling.abort();
      slotFreed?.();
      await (batch as ConsumerMessages | null)?.close();
      await loop;
      if (running.size > 0 && graceMs > 0) {
        deps.log.info({ running: running.size, graceMs }, "waiting for running jobs to finish");
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([Promise.allSettled([...running]), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
        clearTimeout(timer);
      }
      if (running.size > 0) deps.log.warn({ running: running.size }, "grace period over; handing running jobs back");
      shutdown.abort();
      await Promise.allSettled([...running]);
    },
  };
}
