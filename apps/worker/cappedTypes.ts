import { listTypeConsumers, type TypeConsumerState } from "../../libs/queue/mod.ts";
import type { WorkerDeps } from "./deps.ts";

/** The worker's pulls, by consumer name, as the capped types' watch starts and stops them. */
export interface PullsByConsumer {
  has(consumer: string): boolean;
  /** Starts pulling from a consumer, at most `maxBatch` jobs per pull. */
  start(consumer: string, maxBatch: number): Promise<void>;
  stop(consumer: string): Promise<void>;
}

export interface CappedTypesWatch {
  /** Stops listing; the pulls it started are the worker's to stop. */
  stop(): Promise<void>;
}

/**
 * Keeps a worker pulling from the consumer of every capped job type it knows (`workers-<type>`),
 * listed on JOBS at start and every `refreshMs`: one created after the worker started (an api
 * deployed first with a new cap) is pulled from within `refreshMs`, one whose type has lost its
 * cap is drained (its lane still holds the jobs queued before), one an operator removed is no
 * longer pulled. Each listing also sets the capped types' gauges on /metrics.
 * The design: docs/design.md, "Concurrency per type".
 */
export async function watchCappedTypes(
  deps: Pick<WorkerDeps, "jsm" | "registry" | "metrics" | "log">,
  pulls: PullsByConsumer,
  opts: { slots: number; refreshMs: number },
): Promise<CappedTypesWatch> {
  const { metrics, log } = deps;
  const gauges = [metrics.jobTypeConcurrency, metrics.jobTypeInFlight, metrics.jobTypeQueued];
  let known = new Map<string, TypeConsumerState>();
  let stopped = false;

  const refresh = async () => {
    let listed: TypeConsumerState[];
    try {
      listed = await listTypeConsumers(deps.jsm);
    } catch (err) {
      log.warn({ err }, "could not list the capped job types' consumers; trying again shortly");
      return;
    }
    // Only types this worker can run: another deployment's types on the same NATS are not its own.
    const mine = new Map(listed.filter((c) => deps.registry.get(c.type)).map((c) => [c.consumer, c]));
    for (const [name, state] of mine) {
      metrics.jobTypeConcurrency.set({ type: state.type }, state.concurrency);
      metrics.jobTypeInFlight.set({ type: state.type }, state.inFlight);
      metrics.jobTypeQueued.set({ type: state.type }, state.queued);
      if (stopped || pulls.has(name)) continue;
      try {
        // More than the cap never comes in one pull (max_ack_pending -1, set by hand: no cap).
        await pulls.start(name, state.concurrency > 0 ? Math.min(state.concurrency, opts.slots) : opts.slots);
        log.info({ consumer: name, type: state.type, concurrency: state.concurrency }, "pulling a capped job type");
      } catch (err) {
        log.warn({ err, consumer: name }, "could not pull from a capped job type's consumer; trying again shortly");
      }
    }
    for (const [name, state] of known) {
      if (mine.has(name)) continue;
      for (const gauge of gauges) gauge.remove({ type: state.type });
      await pulls.stop(name);
      log.info({ consumer: name }, "a capped job type's consumer is gone; stopped pulling from it");
    }
    known = mine;
  };

  await refresh();
  let refreshing: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    refreshing = refreshing
      .then(refresh)
      .catch((err) => log.warn({ err }, "refreshing the capped job types' consumers failed; trying again shortly"));
  }, opts.refreshMs);
  timer.unref();
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await refreshing;
    },
  };
}
