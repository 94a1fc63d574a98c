import { describe, expect, it } from "vitest";
import { JOB_EVENTS, type JobEvent } from "../../libs/client/mod.ts";
import { colors, formatEvent } from "./output.ts";

const terminal = { isTTY: true } as NodeJS.WriteStream;
const event = (name: JobEvent["event"]): JobEvent => ({
  jobId: "01JDZ8V6Q7W2K3M4N5P6R7S8T9",
  clientId: "c",
  type: "echo",
  event: name,
  attempt: 1,
  progress: null,
  result: null,
  error: null,
  at: "2026-11-28T09:00:01.000Z",
});

describe("formatEvent", () => {
  it("colors the name of a job's end (green, red, yellow) and no other, on a terminal", () => {
    const c = colors(terminal, {});
    const names = Object.fromEntries(JOB_EVENTS.map((n) => [n, formatEvent(7, event(n), c).split("  ")[3]!]));
    expect(names).toEqual({
      queued: "queued",
      started: "started",
      progress: "progress",
      retrying: "retrying",
      succeeded: "\x1b[32msucceeded\x1b[0m null",
      failed: "\x1b[31mfailed\x1b[0m",
      canceled: "\x1b[33mcanceled\x1b[0m",
    });
  });

  it("writes no color with NO_COLOR set", () => {
    expect(formatEvent(7, event("failed"), colors(terminal, { NO_COLOR: "1" }))).toBe(
      "09:00:01 #7  01JDZ8V6Q7W2K3M4N5P6R7S8T9  echo  failed",
    );
  });
});
