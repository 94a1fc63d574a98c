import { describe, expect, it } from "vitest";
import { isTerminal, JOB_EVENTS, JOB_STATUSES, statusOf } from "./mod.ts";

describe("statusOf", () => {
  it("gives every event one of the listed statuses; a terminal event is its own status", () => {
    expect(JOB_EVENTS.map(statusOf)).toEqual([
      "queued",
      "running",
      "running",
      "retrying",
      "succeeded",
      "failed",
      "canceled",
    ]);
    for (const event of JOB_EVENTS) {
      expect(JOB_STATUSES).toContain(statusOf(event));
      if (isTerminal(event)) expect(statusOf(event)).toBe(event);
    }
  });
});
