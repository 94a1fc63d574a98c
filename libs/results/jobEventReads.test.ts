import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { newId } from "../ids/mod.ts";
import type { JobEvent } from "../contracts/mod.ts";
import { startProvisionedNats, type ProvisionedNats } from "../../test/helpers/nats.ts";
import { appendEvent, readFenceBase, readFirstEvent, readJobNow, readLastEvent } from "./mod.ts";

let nats: ProvisionedNats;
let js: JetStreamClient;
let jsm: JetStreamManager;

beforeAll(async () => {
  nats = await startProvisionedNats("job-event-reads-test");
  ({ js, jsm } = nats);
});
afterAll(() => nats?.close());

/** A job with `queued`, `started` and `succeeded` stored; returns them with their sequences. */
async function endedJob(clientId = newId()) {
  const queued: JobEvent = {
    jobId: newId(),
    clientId,
    type: "echo",
    event: "queued",
    attempt: 0,
    progress: null,
    result: null,
    error: null,
    at: new Date().toISOString(),
  };
  const started: JobEvent = { ...queued, event: "started", attempt: 1 };
  const succeeded: JobEvent = { ...started, event: "succeeded", result: "done" };
  const q = await appendEvent(js, queued, 0);
  const s = await appendEvent(js, started, q);
  const e = await appendEvent(js, succeeded, s);
  return {
    clientId,
    jobId: queued.jobId,
    events: [
      { seq: q, event: queued },
      { seq: s, event: started },
      { seq: e, event: succeeded },
    ],
  };
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
