import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import { SCHEDULED_STREAM, SCHEDULER_CONSUMER } from "../../libs/contracts/mod.ts";
import type { WorkerDeps } from "./deps.ts";
import { runScheduledDelivery } from "./scheduledDelivery.ts";

export interface Scheduler {
  /** Stops pulling and waits for the deliveries in hand; anything unsettled comes back after ack_wait. */
  stop(): Promise<void>;
}

const FETCH_EXPIRES_MS = 5_000;
/** Deliveries asked for at once. Each is settled in milliseconds (a read, then a nak or a publish). */
const FETCH_BATCH = 256;
/** Deliveries handled at once: due jobs that come due together are moved in parallel. */
const IN_FLIGHT = 32;
const GAUGE_REFRESH_MS = 5_000;

/**
 * The scheduler loop that every worker runs beside its jobs: pulls from the durable `scheduler`
 * consumer on SCHEDULED and settles each delivery (runScheduledDelivery: park until due, then move
 * into JOBS). Every worker runs one, so scheduling needs no process of its own to deploy or keep
 * alive, and survives any worker's death: the consumer is shared, a job parked by one worker comes
 * back to whichever is pulling when it is due, and one a dead worker held comes back after
 * ack_wait. The loop costs little: a job is delivered when submitted, when due, and again only
 * after a restart. It also keeps `herald_scheduled_jobs` current for this process's /metrics.
 * The design: docs/design.md, "Scheduled jobs".
 */
export async function startScheduler(deps: WorkerDeps): Promise<Scheduler> {
  const consumer = await deps.js.consumers.get(SCHEDULED_STREAM, SCHEDULER_CONSUMER);
  const pulling = new AbortController();
  const inFlight = new Set<Promise<unknown>>();
  let batch: ConsumerMessages | null = null;

  const launch = (msg: JsMsg) => {
    const p = runScheduledDelivery(deps, msg)
      .catch((err) => deps.log.warn({ err, seq: msg.seq }, "scheduled delivery failed; left for redelivery"))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };

  const loop = (async () => {
    while (!pulling.signal.aborted) {
      try {
        batch = await consumer.fetch({ max_messages: FETCH_BATCH, expires: FETCH_EXPIRES_MS });
        for await (const msg of batch) {
          launch(msg);
          while (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
        }
      } catch (err) {
        if (pulling.signal.aborted) break;
        deps.log.warn({ err }, "scheduler fetch failed; retrying");
        await new Promise((r) => setTimeout(r, 500));
      } finally {
        batch = null;
      }
    }
  })();

  const refreshGauge = async () => {
    try {
      deps.metrics.scheduledJobs.set((await deps.jsm.streams.info(SCHEDULED_STREAM)).state.messages);
    } catch {
      // NATS trouble: keep the last value; the next refresh tries again.
    }
  };
  void refreshGauge();
  const gauge = setInterval(refreshGauge, GAUGE_REFRESH_MS);
  gauge.unref();

  deps.log.info({ consumer: SCHEDULER_CONSUMER }, "scheduler started");
  return {
    async stop() {
      clearInterval(gauge);
      pulling.abort();
      await (batch as ConsumerMessages | null)?.close();
      await loop;
      await Promise.allSettled([...inFlight]);
    },
  };
}
