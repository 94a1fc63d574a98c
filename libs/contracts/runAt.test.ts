import { describe, expect, it } from "vitest";
import { jobStatus } from "./mod.ts";
import { resolveRunAt, RUN_AT_PAST_TOLERANCE_MS } from "./runAt.ts";

const NOW = Date.parse("2026-12-01T09:00:00.000Z");
const DAY = 86_400_000;

describe("resolveRunAt", () => {
  it("neither field: null (runs now)", () => {
    expect(resolveRunAt({}, NOW, DAY)).toBeNull();
  });

  it("a delay as a duration, a string of milliseconds or a number of milliseconds", () => {
    expect(resolveRunAt({ delay: "30s" }, NOW, DAY)).toBe("2026-12-01T09:00:30.000Z");
    expect(resolveRunAt({ delay: "5m" }, NOW, DAY)).toBe("2026-12-01T09:05:00.000Z");
    expect(resolveRunAt({ delay: "1500" }, NOW, DAY)).toBe("2026-12-01T09:00:01.500Z");
    expect(resolveRunAt({ delay: 250 }, NOW, DAY)).toBe("2026-12-01T09:00:00.250Z");
    expect(resolveRunAt({ delay: 0 }, NOW, DAY)).toBe("2026-12-01T09:00:00.000Z");
  });

  it("a runAt in RFC 3339, any zone, normalized to UTC", () => {
    expect(resolveRunAt({ runAt: "2026-12-01T10:30:00+01:00" }, NOW, DAY)).toBe("2026-12-01T09:30:00.000Z");
    expect(resolveRunAt({ runAt: "2026-12-01T09:00:02.123Z" }, NOW, DAY)).toBe("2026-12-01T09:00:02.123Z");
  });

  it("a runAt a little in the past is taken (it runs now); further back is a 400", () => {
    const recent = new Date(NOW - RUN_AT_PAST_TOLERANCE_MS).toISOString();
    expect(resolveRunAt({ runAt: recent }, NOW, DAY)).toBe(recent);
    const old = new Date(NOW - RUN_AT_PAST_TOLERANCE_MS - 1).toISOString();
    expect(() => resolveRunAt({ runAt: old }, NOW, DAY)).toThrow(expect.objectContaining({ code: "run_at_in_past" }));
  });

  it.each([
    [{ runAt: "2026-12-01T09:00:30Z", delay: "1s" }, "run_at_and_delay"],
    [{ runAt: "tomorrow" }, "invalid_run_at"],
    [{ runAt: "2026-12-01T09:00:30" }, "invalid_run_at"], // no zone
    [{ runAt: "2026-13-45T09:00:30Z" }, "invalid_run_at"],
    [{ runAt: 1_800_000_000_000 }, "invalid_run_at"],
    [{ delay: "soon" }, "invalid_delay"],
    [{ delay: "-5s" }, "invalid_delay"],
    [{ delay: -5 }, "invalid_delay"],
    [{ delay: true }, "invalid_delay"],
    [{ delay: "25h" }, "schedule_too_far"],
    [{ runAt: "2026-12-02T09:00:00.001Z" }, "schedule_too_far"],
  ])("%j: 400 %s", (input, code) => {
    expect(() => resolveRunAt(input, NOW, DAY)).toThrow(expect.objectContaining({ status: 400, code }));
  });

  it("exactly the bound is allowed", () => {
    expect(resolveRunAt({ delay: "24h" }, NOW, DAY)).toBe("2026-12-02T09:00:00.000Z");
  });
});

describe("jobStatus", () => {
  it("scheduled while a queued event's runAt is ahead; queued from that instant on", () => {
    const runAt = "2026-12-01T09:00:05.000Z";
    expect(jobStatus({ event: "queued", runAt }, NOW)).toBe("scheduled");
    expect(jobStatus({ event: "queued", runAt }, Date.parse(runAt) - 1)).toBe("scheduled");
    expect(jobStatus({ event: "queued", runAt }, Date.parse(runAt))).toBe("queued");
    expect(jobStatus({ event: "queued" }, NOW)).toBe("queued");
    expect(jobStatus({ event: "canceled" }, NOW)).toBe("canceled");
    expect(jobStatus({ event: "started", runAt }, NOW)).toBe("running");
  });
});
