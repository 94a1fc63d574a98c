import { describe, expect, it } from "vitest";
import { encodeEvent, eventNameOf, JOB_EVENTS, type JobEvent } from "./mod.ts";

const base: JobEvent = {
  jobId: "01JDZ8V6Q7W2K3M4N5P6R7S8T9",
  clientId: "client_1",
  type: "echo",
  event: "succeeded",
  attempt: 1,
  progress: { pct: 100, message: "done" },
  result: { event: "failed", nested: ['"event":"canceled"'] },
  error: null,
  at: "2026-11-28T09:00:00.000Z",
};

describe("encodeEvent / eventNameOf", () => {
  it("writes the envelope's keys in one order, whatever the object's, and reads the name back", () => {
    const shuffled = {
      at: base.at,
      error: null,
      result: base.result,
      event: "progress",
      progress: null,
      attempt: 2,
      type: "echo",
      clientId: "client_1",
      jobId: base.jobId,
    } as JobEvent;
    const json = encodeEvent(shuffled);
    expect(Object.keys(JSON.parse(json))).toEqual([
      "jobId",
      "clientId",
      "type",
      "event",
      "attempt",
      "progress",
      "result",
      "error",
      "at",
    ]);
    expect(JSON.parse(json)).toEqual(shuffled);
    for (const event of JOB_EVENTS) expect(eventNameOf(encodeEvent({ ...base, event }))).toBe(event);
  });

  it("is never fooled by event names inside values, and parses in full what herald did not write", () => {
    // Another key order (an operator's publish): parsed, so the top-level `event` wins.
    expect(eventNameOf(JSON.stringify({ result: { event: "failed" }, event: "succeeded" }))).toBe("succeeded");
    expect(
      eventNameOf(JSON.stringify({ jobId: 'x","clientId":"y","type":"z","event":"failed', event: "queued" })),
    ).toBe("queued");
    expect(eventNameOf(JSON.stringify({ event: "exploded" }))).toBeNull();
    expect(eventNameOf("{not json")).toBeNull();
    expect(eventNameOf("null")).toBeNull();
  });
});
