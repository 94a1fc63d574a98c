import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { createLogger } from "../log/mod.ts";
import { connectNats, loadDefinitions, provision } from "../nats/mod.ts";
import { newId } from "../ids/mod.ts";
import type { JobEvent } from "../contracts/mod.ts";
import { startTestNats, type TestNats } from "../../test/helpers/nats.ts";
import { appendEvent, readFenceBase, readFirstEvent, readJobNow, readLastEvent } from "./mod.ts";

let server: TestNats;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
const log = createLogger({ level: "silent" });

beforeAll(async () => {
  server = await startTestNats();
  nc = await connectNats({ servers: [server.url], name: "job-event-reads-test", log });
  await provision(nc, loadDefinitions({ replicas: 1, resultsMaxAgeMs: 3_600_000, jobAckWaitMs: 10_000, jobMaxDeliver: 4, jobsMaxQueuedPerClient: 1_000 }), log);
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
});
afterAll(async () => {
  await nc?.close();
  await server?.close();
});

/** A job with `queued`, `started` and `succeeded` stored; returns them with their sequences. */
async function endedJob(clientId = newId()) {
  const queued: JobEvent = { jobId: newId(), clientId, type: "echo", event: "queued", attempt: 0, progress: null, result: null, error: null, at: new Date().toISOString() };
  const started: JobEvent = { ...queued, event: "started", attempt: 1 };
  const succeeded: JobEvent = { ...started, event: "succeeded", result: "done" };
  const q = await appendEvent(js, queued, 0);
  const s = await appendEvent(js, started, q);
  const e = await appendEvent(js, succeeded, s);
  return { clientId, jobId: queued.jobId, events: [{ seq: q, event: queued }, { seq: s, event: started }, { seq: e, event: succeeded }] };
}

describe("a job's first and last events", () => {
  it("reads the first and the last, from a replica or from the leader", async () => {
    const { clientId, jobId, events } = await endedJob();
    for (const from of ["replica", "leader"] as const) {
      expect(await readFirstEvent(jsm, clientId, jobId, from)).toEqual(events[0]);
      expect(await readLastEvent(jsm, clientId, jobId, from)).toEqual(events[2]);
    }
    // The writers' reads are the leader's last event.
    expect(await readFenceBase(jsm, clientId, jobId)).toEqual(events[2]);
    expect(await readJobNow(jsm, clientId, jobId)).toEqual(events[2]);
  });

  it("answers null for a job with no events, also for another client's job", async () => {
    const { jobId } = await endedJob();
    const stranger = newId();
    expect(await readLastEvent(jsm, stranger, jobId)).toBeNull();
    expect(await readFirstEvent(jsm, stranger, jobId, "leader")).toBeNull();
    expect(await readFenceBase(jsm, stranger, jobId)).toBeNull();
    expect(await readJobNow(jsm, stranger, newId())).toBeNull();
  });
});
