import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { newId } from "../ids/mod.ts";
import type { JobEvent } from "../contracts/mod.ts";
import { startProvisionedNats, type ProvisionedNats } from "../../test/helpers/nats.ts";
import { appendEvent, AlreadyTerminalError, EventFencedError, isFencedOut, readLastEvent } from "./mod.ts";
import { queuedEvent } from "../../test/helpers/events.ts";

let nats: ProvisionedNats;
let js: JetStreamClient;
let jsm: JetStreamManager;

beforeAll(async () => {
  nats = await startProvisionedNats("append-event-test");
  ({ js, jsm } = nats);
});
afterAll(() => nats?.close());

function job(): JobEvent {
  return queuedEvent({ jobId: newId(), clientId: "appender" });
}

describe("appendEvent", () => {
  it("stores each event fenced on the one before, and returns its sequence", async () => {
    const queued = job();
    const q = await appendEvent(js, queued, 0);
    const s = await appendEvent(js, { ...queued, event: "started", attempt: 1 }, q);
    expect(s).toBeGreaterThan(q);
    expect(await readLastEvent(jsm, queued.clientId, queued.jobId, "leader")).toEqual({
      seq: s,
      event: { ...queued, event: "started", attempt: 1 },
    });
  });

  it("refuses a write fenced on a sequence that is no longer the job's last (EventFencedError), and stores nothing", async () => {
    const queued = job();
    const q = await appendEvent(js, queued, 0);
    const canceled = await appendEvent(js, { ...queued, event: "canceled" }, q);
    const late = appendEvent(js, { ...queued, event: "started", attempt: 1 }, q);
    await expect(late).rejects.toBeInstanceOf(EventFencedError);
    expect(isFencedOut(await late.catch((err) => err))).toBe(true);
    expect((await readLastEvent(jsm, queued.clientId, queued.jobId, "leader"))?.seq).toBe(canceled);
  });

  it("never stores a second terminal event, even fenced on the first (AlreadyTerminalError)", async () => {
    const queued = job();
    const q = await appendEvent(js, queued, 0);
    const succeeded = await appendEvent(js, { ...queued, event: "succeeded", attempt: 1 }, q);
    const again = appendEvent(js, { ...queued, event: "canceled" }, succeeded);
    await expect(again).rejects.toBeInstanceOf(AlreadyTerminalError);
    expect(isFencedOut(await again.catch((err) => err))).toBe(true);
    expect((await readLastEvent(jsm, queued.clientId, queued.jobId, "leader"))?.event.event).toBe("succeeded");
  });

  it("does not take other errors for a lost fence", () => {
    expect(isFencedOut(new Error("NATS gone"))).toBe(false);
  });
});
