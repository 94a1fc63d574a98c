import { setMaxListeners } from "node:events";
import type { JsMsg } from "@nats-io/jetstream";
import { JOBS_STREAM, WORKERS_CONSUMER } from "../../libs/contracts/mod.ts";
import type { WorkerDeps } from "./deps.ts";
import { runDelivery } from "./runDelivery.ts";
import { startScheduler } from "./scheduler.ts";
import { Slots } from "./slots.ts";
import { pullFromConsumer, type ConsumerPull } from "./consumerPull.ts";
import { watchCappedTypes } from "./cappedTypes.ts";
import { WebhookDirectory } from "../../libs/webhooks/mod.ts";
import { startWebhookDispatch } from "./webhookDispatch.ts";
import { startWebhookSenders } from "./webhookSenders.ts";

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
 * (slots.ts, consumerPull.ts). Which capped consumers to pull from is watched by cappedTypes.ts.
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
        handedBack: () => deps.metrics.deliveriesHandedBack.inc({ consumer: name }),
        log: deps.log.child({ consumer: name }),
      }),
    );
  };

  await pullFrom(WORKERS_CONSUMER, concurrency);
  const cappedTypes = await watchCappedTypes(
    deps,
    {
      has: (name) => pulls.has(name),
      start: pullFrom,
      async stop(name) {
        const pull = pulls.get(name);
        pulls.delete(name);
        await pull?.stop();
      },
    },
    { slots: concurrency, refreshMs: opts.typeConsumersRefreshMs ?? TYPE_CONSUMERS_REFRESH_MS },
  );

  // Every worker also moves scheduled jobs into JOBS when they are due (scheduler.ts says why),
  // and dispatches and sends webhooks: no process of its own to deploy, and as many as there are
  // workers (docs/design.md, "Webhooks").
  const scheduler = await startScheduler(deps);
  const directory = new WebhookDirectory(deps.webhookConfig, deps.log, (n) => deps.metrics.webhookClients.set(n));
  await directory.load();
  const dispatch = await startWebhookDispatch({ ...deps, directory });
  const senders = await startWebhookSenders({ ...deps, options: deps.webhookOptions });
  deps.log.info({ concurrency, consumers: [...pulls.keys()] }, "worker started");
  return {
    async stop(graceMs = 0) {
      await cappedTypes.stop();
      await scheduler.stop();
      await dispatch.stop();
      await senders.stop();
      directory.stop();
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
