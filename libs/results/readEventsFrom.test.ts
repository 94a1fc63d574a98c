import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { newId } from "../ids/mod.ts";
import { clientResultsFilter, encodeEvent, resultSubject, type JobEvent } from "../contracts/mod.ts";
import { replayConsumers, startProvisionedNats, type ProvisionedNats } from "../../test/helpers/nats.ts";
import { readEventsFrom, type RawEvent } from "./mod.ts";

let nats: ProvisionedNats;
let js: JetStreamClient;
let jsm: JetStreamManager;

beforeAll(async () => {
  nats = await startProvisionedNats("read-events-from-test");
  ({ js, jsm } = nats);
});
afterAll(() => nats?.close());

/** Stores `n` progress events of one job of `clientId` (unfenced: only the replay is under test); returns their sequences. */
async function storeEvents(clientId: string, n: number, jobId = newId()): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < n; i += 100) {
    const batch = Array.from({ length: Math.min(100, n - i) }, (_, k) => {
      const ev: JobEvent = {
        jobId,
        clientId,
        type: "echo",
        event: "progress",
        attempt: 1,
        progress: { pct: 0, message: String(i + k) },
        result: null,
        error: null,
        at: new Date().toISOString(),
      };
      return js.publish(resultSubject(clientId, jobId), encodeEvent(ev));
    });
    seqs.push(...(await Promise.all(batch)).map((a) => a.seq));
  }
  return seqs;
}

async function collect(events: AsyncIterable<RawEvent>): Promise<RawEvent[]> {
  const out: RawEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

describe("readEventsFrom (the replay)", () => {
  it("reads a few missed events of a client, from a sequence through the last one asked for, and nobody else's", async () => {
    const clientId = newId();
    const mine = await storeEvents(clientId, 5);
    await storeEvents(newId(), 3); // another client's, in between
    const more = await storeEvents(clientId, 2);
    const read = await collect(readEventsFrom(js, jsm, clientResultsFilter(clientId), mine[1]!, more[0]!));
    expect(read.map((e) => e.seq)).toEqual([...mine.slice(1), more[0]]);
    expect(JSON.parse(read[0]!.json)).toMatchObject({ clientId, event: "progress", progress: { message: "1" } });
  });

  it("pages through many missed events with a consumer, in order, and deletes the consumer after", async () => {
    const clientId = newId();
    const jobId = newId();
    const seqs = await storeEvents(clientId, 1_200, jobId);
    const read = await collect(readEventsFrom(js, jsm, resultSubject(clientId, jobId), seqs[0]!, seqs.at(-1)!, 100));
    expect(read.map((e) => e.seq)).toEqual(seqs);
    expect(await replayConsumers(jsm)).toEqual([]);
  });

  it("ends at the last sequence asked for, although more follow, and when abandoned leaves no consumer", async () => {
    const clientId = newId();
    const seqs = await storeEvents(clientId, 300);
    const read = await collect(readEventsFrom(js, jsm, clientResultsFilter(clientId), 1, seqs[199]!, 50));
    expect(read.map((e) => e.seq)).toEqual(seqs.slice(0, 200));
    let taken = 0;
    for await (const _ of readEventsFrom(js, jsm, clientResultsFilter(clientId), 1, seqs.at(-1)!, 50))
      if (++taken === 100) break;
    expect(await replayConsumers(jsm)).toEqual([]);
  });

  it("reads nothing when the sequence asked from is past the last one", async () => {
    const clientId = newId();
    const seqs = await storeEvents(clientId, 3);
    expect(await collect(readEventsFrom(js, jsm, clientResultsFilter(clientId), seqs[2]! + 1, seqs[2]!))).toEqual([]);
  });
});
