import { setMaxListeners } from "node:events";
import type { JsMsg } from "@nats-io/jetstream";
import { JOBS_STREAM, WORKERS_CONSUMER } from "../../libs/contracts/mod.ts";
import { listTypeConsumers, type TypeConsumerState } from "../../libs/queue/mod.ts";
import type { WorkerDeps } from "./deps.ts";
import { runDelivery } from "./runDelivery.ts";
import { startScheduler } from "./scheduler.ts";
import { Slots } from "./slots.ts";
import { pullFromConsumer, type ConsumerPull } from "./consumerPull.ts";

export interface Worker {
  /**
   * Graceful stop: no more pulls; running jobs get `graceMs` to finish; whatever still runs then is
   * aborted (ctx.signal, reason "shutdown") and nak'ed, so another worker takes it at once.
   */
  stop(graceMs?: number): Promise<void>;
}

export interface WorkerOptions {
  /** How often the capped types' consumers are listed again (new ones pulled from, /metrics updated). */
  typeConsumersRefreshMs?: number;
}

const TYPE_CONSUMERS_REFRESH_MS = 5_000;

/**
 * Runs at most `concurrency` jobs at once, pulled from the durable `workers` consumer (every type
 * without a concurrency cap) and from the `workers-<type>` consumer of each capped type it knows,
 * whose max_ack_pending caps that type across all workers. The pulls share the worker's slots
 * (slots.ts, consumerPull.ts). The capped consumers are listed at start and again every few
 * seconds, so a worker also drains one created after it started, or one whose type has lost its cap.
 * The design: docs/design.md, "worker", "Concurrency per type".
 */
export async function startWorker(deps: WorkerDeps, concurrency: number, opts: WorkerOptions = {}): Promise<Worker> {
  const shutdown = new AbortController();
  // Each running job listens on the shutdown signal (and removes its listener when it ends):
  // up to `concurrency` listeners is expected, not the leak Node warns about past 10.
  setMaxListeners(concurrency + 10, shutdown.signal);
  const slots = new Slots(concurrency);
  const running = new Set<Promise<unknown>>();
  const pulls = new Map<string, ConsumerPull>();
  let stopping = false;

  const run = (msg: JsMsg) => {
    const p = runDelivery(deps, msg, shutdown.signal)
      .catch((err) => deps.log.error({ err, seq: msg.seq }, "delivery failed; left for redelivery"))
      .finally(() => {
        running.delete(p);
        slots.release();
      });
    running.add(p);
  };
  const pullFrom = async (name: string, maxBatch: number) => {
    const consumer = await deps.js.consumers.get(JOBS_STREAM, name);
    pulls.set(
      name,
      pullFromConsumer(consumer, {
        slots,
        maxBatch,
        run,
        handedBack: () => deps.metrics.deliveriesHandedBack.inc(),
        log: deps.log.child({ consumer: name }),
      }),
    );
  };

  await pullFrom(WORKERS_CONSUMER, concurrency);
  const typeConsumers = new Map<string, TypeConsumerState>();
  const refreshTypeConsumers = async () => {
    let listed: TypeConsumerState[];
    try {
      listed = await listTypeConsumers(deps.jsm);
    } catch (err) {
      deps.log.warn({ err }, "could not list the capped job types' consumers; trying again shortly");
      return;
    }
    // Only types this worker can run: another deployment's types on the same NATS are not its own.
    const mine = new Map(listed.filter((c) => deps.registry.get(c.type)).map((c) => [c.consumer, c]));
    for (const [name, state] of mine) {
      const { metrics } = deps;
      metrics.jobTypeConcurrency.set({ type: state.type }, state.concurrency);
      metrics.jobTypeInFlight.set({ type: state.type }, state.inFlight);
      metrics.jobTypeQueued.set({ type: state.type }, state.queued);
      if (stopping || pulls.has(name)) continue;
      try {
        // More than the cap could never come in one pull (max_ack_pending -1: set by hand, no cap).
        await pullFrom(name, state.concurrency > 0 ? Math.min(state.concurrency, concurrency) : concurrency);
        deps.log.info(
          { consumer: name, type: state.type, concurrency: state.concurrency },
          "pulling a capped job type",
        );
      } catch (err) {
        deps.log.warn(
          { err, consumer: name },
          "could not pull from a capped job type's consumer; trying again shortly",
        );
      }
    }
    // A consumer an operator deleted (a type whose cap was removed, once its lane was empty).
    for (const [name, state] of typeConsumers) {
      if (mine.has(name)) continue;
      for (const gauge of [deps.metrics.jobTypeConcurrency, deps.metrics.jobTypeInFlight, deps.metrics.jobTypeQueued])
        gauge.remove({ type: state.type });
      const pull = pulls.get(name);
      pulls.delete(name);
      await pull?.stop();
      deps.log.info({ consumer: name }, "capped job type's consumer is gone; stopped pulling from it");
    }
    typeConsumers.clear();
    for (const [name, state] of mine) typeConsumers.set(name, state);
  };
  await refreshTypeConsumers();
  let refreshing: Promise<void> = Promise.resolve();
  const refresher = setInterval(() => {
    refreshing = refreshing.then(refreshTypeConsumers);
  }, opts.typeConsumersRefreshMs ?? TYPE_CONSUMERS_REFRESH_MS);
  refresher.unref();

  // Every worker also moves scheduled jobs into JOBS when they are due (scheduler.ts says why).
  const scheduler = await startScheduler(deps);
  deps.log.info({ concurrency, consumers: [...pulls.keys()] }, "worker started");
  return {
    async stop(graceMs = 0) {
      stopping = true;
      clearInterval(refresher);
      await refreshing;
      await scheduler.stop();
      await Promise.all([...pulls.values()].map((p) => p.stop()));
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
