import { SCHEDULED_STREAM, SCHEDULER_CONSUMER } from "../../libs/contracts/mod.ts";
import type { WorkerDeps } from "./deps.ts";
import { runScheduledDelivery } from "./scheduledDelivery.ts";
import { pullInBatches, refreshEvery } from "./batchPull.ts";

export interface Scheduler {
  /** Stops pulling and waits for the deliveries in hand; anything unsettled comes back after ack_wait. */
  stop(): Promise<void>;
}

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
  const pull = pullInBatches(consumer, {
    batch: FETCH_BATCH,
    inFlight: IN_FLIGHT,
    handle: (msg) => runScheduledDelivery(deps, msg),
    log: deps.log,
    what: "scheduled delivery",
  });
  const stopGauge = refreshEvery(async () => {
    deps.metrics.scheduledJobs.set((await deps.jsm.streams.info(SCHEDULED_STREAM)).state.messages);
  }, GAUGE_REFRESH_MS);
  deps.log.info({ consumer: SCHEDULER_CONSUMER }, "scheduler started");
  return {
    async stop() {
      stopGauge();
      await pull.stop();
    },
  };
}
