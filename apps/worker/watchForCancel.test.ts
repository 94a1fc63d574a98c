import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { appendEvent } from "../../libs/results/mod.ts";
import { newId } from "../../libs/ids/mod.ts";
import type { JobEvent } from "../../libs/contracts/mod.ts";
import { startProvisionedNats, type ProvisionedNats } from "../../test/helpers/nats.ts";
import { watchForCancel } from "./watchForCancel.ts";
import { queuedEvent } from "../../test/helpers/events.ts";

let nats: ProvisionedNats;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;

beforeAll(async () => {
  nats = await startProvisionedNats("watch-for-cancel-test");
  ({ nc, js, jsm } = nats);
});
afterAll(() => nats?.close());

/** A running job: `queued` and `started` stored; returns how to store its cancel. */
async function runningJob() {
  const jobId = newId();
  const base: JobEvent = queuedEvent({ jobId, clientId: "watcher" });
  const queued = await appendEvent(js, base, 0);
  const started = await appendEvent(js, { ...base, event: "started", attempt: 1 }, queued);
  return {
    job: { jobId, clientId: "watcher" },
    cancel: () => appendEvent(js, { ...base, event: "canceled", attempt: 1 }, started),
  };
}

const subscriptions = async () =>
  (await (await fetch(`${nats.server.monitorUrl}/connz?subs=1`)).json()).connections.reduce(
    (n: number, c: { subscriptions_list?: string[] }) =>
      n + (c.subscriptions_list ?? []).filter((s) => s.startsWith("live.")).length,
    0,
  );

describe("watchForCancel", () => {
  it("sees a cancel stored before it started listening (it reads the job's last event once subscribed)", async () => {
    const { job, cancel } = await runningJob();
    await cancel();
    let canceled = 0;
    const watch = watchForCancel({ nc, jsm }, job, () => canceled++, 50);
    await expect.poll(() => canceled, { timeout: 5_000 }).toBe(1);
    watch.stop();
  });

  it("sees a cancel stored while it listens", async () => {
    const { job, cancel } = await runningJob();
    let canceled = 0;
    const watch = watchForCancel({ nc, jsm }, job, () => canceled++, 0);
    await expect.poll(subscriptions, { timeout: 5_000 }).toBe(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(canceled).toBe(0);
    await cancel();
    await expect.poll(() => canceled, { timeout: 5_000 }).toBe(1);
    watch.stop();
    await expect.poll(subscriptions, { timeout: 5_000 }).toBe(0);
  });

  it("never subscribes for a job that ended before the watch was due", async () => {
    const { job, cancel } = await runningJob();
    let canceled = 0;
    const watch = watchForCancel({ nc, jsm }, job, () => canceled++, 100);
    watch.stop();
    await cancel();
    await new Promise((r) => setTimeout(r, 300));
    expect(canceled).toBe(0);
    expect(await subscriptions()).toBe(0);
  });
});
