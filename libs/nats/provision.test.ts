import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { createLogger } from "../log/mod.ts";
import { startTestNats, type TestNats } from "../../test/helpers/nats.ts";
import { jetstream } from "@nats-io/jetstream";
import { connectNats, definitionPath, loadDefinitions, provision, provisionTypeConsumers } from "./mod.ts";

let server: TestNats;
let nc: NatsConnection;
let jsm: JetStreamManager;
const log = createLogger({ level: "silent" });
const overrides = { replicas: 1, resultsMaxAgeMs: 3_600_000, jobAckWaitMs: 10_000, jobsMaxQueuedPerClient: 1_000 };

beforeAll(async () => {
  server = await startTestNats();
  nc = await connectNats({ servers: [server.url], name: "provision-test", log });
  jsm = await jetstreamManager(nc);
});
afterAll(async () => {
  await nc?.close();
  await server?.close();
});

/** Every stream provisioning makes: herald's own, and the KV buckets' streams. */
const ALL_STREAMS = [
  "JOBINDEX",
  "JOBS",
  "JOBS_DLQ",
  "KV_idempotency",
  "KV_webhook_status",
  "KV_webhooks",
  "RESULTS",
  "SCHEDULED",
  "WEBHOOKS",
  "WEBHOOKS_DLQ",
];

const json = (...p: string[]) => JSON.parse(readFileSync(definitionPath(...p), "utf8"));

describe("provision", () => {
  it("creates the streams, the workers, scheduler and webhook consumers and the buckets as nats/*.json define them", async () => {
    await provision(nc, loadDefinitions(overrides), log);
    for (const name of ["JOBS", "RESULTS", "JOBS_DLQ", "SCHEDULED", "JOBINDEX", "WEBHOOKS", "WEBHOOKS_DLQ"]) {
      const file = json("streams", `${name}.json`);
      const { config } = await jsm.streams.info(name);
      // Every setting in the file is what the server has, but for the ones the environment sets.
      const expected = {
        ...file,
        ...(name === "RESULTS" || name === "JOBINDEX" ? { max_age: 3_600_000 * 1e6 } : {}),
      };
      for (const [k, v] of Object.entries(expected))
        expect((config as Record<string, unknown>)[k], `${name}.${k}`).toEqual(v);
    }
    const file = json("consumers", "workers.json");
    const { config } = await jsm.consumers.info("JOBS", "workers");
    for (const [k, v] of Object.entries({ ...file, ack_wait: 10_000 * 1e6, max_deliver: -1 })) {
      expect((config as Record<string, unknown>)[k], `workers.${k}`).toEqual(v);
    }
    // Unbounded on every supported server (-1 is echoed back): parked jobs never block new ones.
    const scheduler = await jsm.consumers.info("SCHEDULED", "scheduler");
    for (const [k, v] of Object.entries(json("consumers", "scheduler.json"))) {
      expect((scheduler.config as Record<string, unknown>)[k], `scheduler.${k}`).toEqual(v);
    }
    for (const [stream, consumer] of [
      ["RESULTS", "webhook-dispatch"],
      ["WEBHOOKS", "webhook-senders"],
    ] as const) {
      const info = await jsm.consumers.info(stream, consumer);
      for (const [k, v] of Object.entries(json("consumers", `${consumer}.json`))) {
        expect((info.config as Record<string, unknown>)[k], `${consumer}.${k}`).toEqual(v);
      }
    }
    const kv = await jsm.streams.info("KV_idempotency");
    expect(kv.config.max_age).toBe(3_600_000 * 1e6);
    expect(kv.config.max_msgs_per_subject).toBe(1);
    // A job's delivery outcomes are kept as long as its events; a client's webhook settings for good.
    expect((await jsm.streams.info("KV_webhook_status")).config.max_age).toBe(3_600_000 * 1e6);
    expect((await jsm.streams.info("KV_webhooks")).config.max_age).toBe(0);
  });

  it("is idempotent, also when apps start at the same time, and applies changed settings", async () => {
    const defs = loadDefinitions({ ...overrides, resultsMaxAgeMs: 7_200_000, jobAckWaitMs: 20_000 });
    await Promise.all([provision(nc, defs, log), provision(nc, defs, log), provision(nc, defs, log)]);
    expect((await jsm.streams.info("RESULTS")).config.max_age).toBe(7_200_000 * 1e6);
    expect((await jsm.consumers.info("JOBS", "workers")).config.ack_wait).toBe(20_000 * 1e6);
    const names: string[] = [];
    for await (const s of jsm.streams.list()) names.push(s.config.name);
    expect(names.sort()).toEqual(ALL_STREAMS);
  });

  it("provisions concurrently on a fresh server: every app's call succeeds and leaves one of each, as defined", async () => {
    // The apps of a new deployment start together, each provisioning against a server that has
    // none of the streams yet; some may run with other settings (RESULTS_MAX_AGE, JOB_ACK_WAIT)
    // than others. Every call must succeed (an app that loses the race to create a stream updates
    // it instead), and the server must end with exactly one of each, configured as one of the
    // apps defined it. (Creating a stream with a config identical to the existing one is not an
    // error for the server, so only differing definitions exercise the lost race.) A few rounds,
    // each on a fresh server, so that the creates really do race.
    const a = loadDefinitions(overrides);
    const b = loadDefinitions({ ...overrides, resultsMaxAgeMs: 7_200_000, jobAckWaitMs: 20_000 });
    const matches = (actual: unknown, defined: object) =>
      Object.entries(defined).every(
        ([k, v]) => JSON.stringify((actual as Record<string, unknown>)[k]) === JSON.stringify(v),
      );
    for (let round = 1; round <= 3; round++) {
      const fresh = await startTestNats();
      const conns = await Promise.all(
        [1, 2, 3, 4, 5, 6].map((i) => connectNats({ servers: [fresh.url], name: `p${i}`, log })),
      );
      try {
        const settled = await Promise.allSettled(conns.map((c, i) => provision(c, i % 2 ? b : a, log)));
        expect(
          settled.map((s) => (s.status === "fulfilled" ? "ok" : String(s.reason))),
          `round ${round}`,
        ).toEqual(Array(6).fill("ok"));

        const freshJsm = await jetstreamManager(conns[0]!);
        const streams: string[] = [];
        for await (const s of freshJsm.streams.list()) streams.push(s.config.name);
        expect(streams.sort()).toEqual(ALL_STREAMS);
        for (const name of ["jobs", "results", "deadLetters", "jobIndex", "webhooks", "webhookDeadLetters"] as const) {
          const { config } = await freshJsm.streams.info(a[name].name);
          expect(
            matches(config, a[name]) || matches(config, b[name]),
            `${a[name].name}: ${JSON.stringify(config)}`,
          ).toBe(true);
        }
        const consumers: string[] = [];
        for await (const c of freshJsm.consumers.list("JOBS")) consumers.push(c.name);
        expect(consumers).toEqual(["workers"]);
        const { config: workers } = await freshJsm.consumers.info("JOBS", "workers");
        expect(matches(workers, a.workers) || matches(workers, b.workers), `workers: ${JSON.stringify(workers)}`).toBe(
          true,
        );
        const kv = await freshJsm.streams.info("KV_idempotency");
        expect([3_600_000 * 1e6, 7_200_000 * 1e6]).toContain(kv.config.max_age);
        expect(kv.config.max_msgs_per_subject).toBe(1);

        // Every app's bucket handle is the one bucket: what one writes, the others read.
        const buckets = settled.map(
          (s) => (s as PromiseFulfilledResult<Awaited<ReturnType<typeof provision>>>).value.idempotency,
        );
        await buckets[0]!.put("k", `round-${round}`);
        for (const kvHandle of buckets) expect((await kvHandle.get("k"))?.string()).toBe(`round-${round}`);
      } finally {
        await Promise.all(conns.map((c) => c.close()));
        await fresh.close();
      }
    }
  });

  it("provisions concurrently when only the idempotency bucket is missing: the apps race on it, and all succeed", async () => {
    // With the streams there, every app reaches the bucket at about the same moment: the one that
    // loses its create (other settings: another RESULTS_MAX_AGE) must open the winner's bucket.
    const a = loadDefinitions(overrides);
    const b = loadDefinitions({ ...overrides, resultsMaxAgeMs: 7_200_000 });
    const fresh = await startTestNats();
    const conns = await Promise.all(
      [1, 2, 3, 4, 5, 6, 7, 8].map((i) => connectNats({ servers: [fresh.url], name: `k${i}`, log })),
    );
    try {
      const jsm = await jetstreamManager(conns[0]!);
      for (let round = 1; round <= 5; round++) {
        await provision(conns[0]!, a, log);
        await jsm.streams.delete("KV_idempotency");
        const settled = await Promise.allSettled(conns.map((c, i) => provision(c, i % 2 ? b : a, log)));
        expect(
          settled.map((s) => (s.status === "fulfilled" ? "ok" : String(s.reason))),
          `round ${round}`,
        ).toEqual(Array(conns.length).fill("ok"));
      }
    } finally {
      await Promise.all(conns.map((c) => c.close()));
      await fresh.close();
    }
  });

  it("gives each capped job type its own consumer (max_ack_pending = its cap), beside `workers`, from several apps at once, and applies a new cap", async () => {
    const defs = loadDefinitions(overrides);
    await provision(nc, defs, log);
    const caps = [
      { type: "render", concurrency: 2 },
      { type: "email", concurrency: 5 },
    ];
    await Promise.all([1, 2, 3].map(() => provisionTypeConsumers(jsm, defs, caps, log)));
    const render = await jsm.consumers.info("JOBS", "workers-render");
    expect(render.config).toMatchObject({
      filter_subject: "jobs.render.*.capped",
      max_ack_pending: 2,
      ack_wait: 10_000 * 1e6,
      max_deliver: -1,
      ack_policy: "explicit",
    });
    expect((await jsm.consumers.info("JOBS", "workers-email")).config.max_ack_pending).toBe(5);
    await provisionTypeConsumers(jsm, defs, [{ type: "render", concurrency: 3 }], log);
    expect((await jsm.consumers.info("JOBS", "workers-render")).config.max_ack_pending).toBe(3);
    // The shared consumer's filter and a capped one's never overlap, so the server takes both; a
    // filter that did overlap is refused (a work queue delivers each message to one consumer).
    await expect(
      jsm.consumers.add("JOBS", {
        durable_name: "overlap",
        filter_subject: "jobs.render.>",
        ack_policy: "explicit",
      } as never),
    ).rejects.toThrow(/not unique/);
  });

  it("narrows a `workers` consumer made before caps existed (filter jobs.>) and keeps the job it has in flight", async () => {
    const fresh = await startTestNats();
    const c = await connectNats({ servers: [fresh.url], name: "upgrade", log });
    try {
      const defs = loadDefinitions(overrides);
      const old = { ...defs, workers: { ...defs.workers, filter_subject: "jobs.>" } };
      await provision(c, old, log);
      const js = jetstream(c);
      const fjsm = await jetstreamManager(c);
      await js.publish("jobs.echo.c1", "a job queued before the upgrade");
      const consumer = await js.consumers.get("JOBS", "workers");
      const inFlight = await consumer.next({ expires: 5_000 });
      expect(inFlight?.subject).toBe("jobs.echo.c1");
      await provision(c, defs, log);
      await provisionTypeConsumers(fjsm, defs, [{ type: "echo", concurrency: 1 }], log);
      const info = await fjsm.consumers.info("JOBS", "workers");
      expect(info.config.filter_subject).toBe("jobs.*.*");
      // Still held by its worker, not handed to anyone again.
      expect([info.num_ack_pending, info.num_pending, info.num_redelivered]).toEqual([1, 0, 0]);
      inFlight!.ack();
    } finally {
      await c.close();
      await fresh.close();
    }
  });
});
