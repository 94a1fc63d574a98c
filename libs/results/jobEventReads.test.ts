import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { newId } from "../ids/mod.ts";
import { startProvisionedNats, type ProvisionedNats } from "../../test/helpers/nats.ts";
import { readFenceBase, readFirstEvent, readJobNow, readLastEvent } from "./mod.ts";
import { storeEndedJob } from "../../test/helpers/events.ts";

let nats: ProvisionedNats;
let js: JetStreamClient;
let jsm: JetStreamManager;

beforeAll(async () => {
  nats = await startProvisionedNats("job-event-reads-test");
  ({ js, jsm } = nats);
});
afterAll(() => nats?.close());

const endedJob = (clientId?: string) => storeEndedJob(js, clientId);

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
