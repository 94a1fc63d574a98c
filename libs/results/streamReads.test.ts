import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { newId } from "../ids/mod.ts";
import { clientResultsFilter, RESULTS_STREAM, resultSubject } from "../contracts/mod.ts";
import { startProvisionedNats, type ProvisionedNats } from "../../test/helpers/nats.ts";
import { readEventAt, readLastMatch, readResultsBounds } from "./mod.ts";
import { storeEndedJob } from "../../test/helpers/events.ts";

let nats: ProvisionedNats;
let js: JetStreamClient;
let jsm: JetStreamManager;

beforeAll(async () => {
  nats = await startProvisionedNats("stream-reads-test");
  ({ js, jsm } = nats);
});
afterAll(() => nats?.close());

const endedJob = (clientId?: string) => storeEndedJob(js, clientId);

describe("RESULTS as a whole", () => {
  it("reads the last event matching a client's filter, or null", async () => {
    const clientId = newId();
    await endedJob(clientId);
    const second = await endedJob(clientId);
    await endedJob(); // someone else's, later
    expect(await readLastMatch(jsm, clientResultsFilter(clientId))).toBe(second.events[2]!.seq);
    expect(await readLastMatch(jsm, resultSubject(clientId, second.jobId))).toBe(second.events[2]!.seq);
    expect(await readLastMatch(jsm, clientResultsFilter(newId()))).toBeNull();
  });

  it("reads the stream's bounds, and one event by its sequence with its subject", async () => {
    const { clientId, jobId, events } = await endedJob();
    const bounds = await readResultsBounds(jsm);
    expect(bounds.first).toBeGreaterThanOrEqual(1);
    expect(bounds.last).toBe((await jsm.streams.info(RESULTS_STREAM)).state.last_seq);
    expect(bounds.last).toBeGreaterThanOrEqual(events[2]!.seq);
    const at = await readEventAt(jsm, events[1]!.seq);
    expect(at).toEqual({ seq: events[1]!.seq, subject: resultSubject(clientId, jobId), json: expect.any(String) });
    expect(JSON.parse(at!.json)).toEqual(events[1]!.event);
    expect(await readEventAt(jsm, bounds.last + 1_000)).toBeNull();
  });
});
