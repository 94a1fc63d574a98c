import { describe, expect, it } from "vitest";
import { isTimeLimit, MAX_TIME_LIMIT_MS, parseRequestDuration } from "./mod.ts";

describe("parseRequestDuration", () => {
  it("reads the configuration's grammar and numbers of milliseconds", () => {
    expect(parseRequestDuration("30s")).toBe(30_000);
    expect(parseRequestDuration("5m")).toBe(300_000);
    expect(parseRequestDuration("250ms")).toBe(250);
    expect(parseRequestDuration("1.5s")).toBe(1_500);
    expect(parseRequestDuration("1500")).toBe(1_500);
    expect(parseRequestDuration(1_500)).toBe(1_500);
    expect(parseRequestDuration(0)).toBe(0);
    expect(parseRequestDuration("0s")).toBe(0);
  });

  it("answers null for anything else", () => {
    for (const bad of [
      "",
      "soon",
      "-5s",
      "5 minutes",
      "1e3",
      "5S",
      -1,
      Number.NaN,
      Infinity,
      1e300,
      true,
      null,
      {},
      [],
    ]) {
      expect(parseRequestDuration(bad), JSON.stringify(bad)).toBeNull();
    }
    expect(parseRequestDuration(`${"9".repeat(70)}`)).toBeNull();
  });
});

describe("isTimeLimit", () => {
  it("takes whole positive milliseconds up to 24 days", () => {
    expect(isTimeLimit(1)).toBe(true);
    expect(isTimeLimit(MAX_TIME_LIMIT_MS)).toBe(true);
    for (const bad of [0, -1, 1.5, MAX_TIME_LIMIT_MS + 1, "10s", null]) expect(isTimeLimit(bad)).toBe(false);
  });
});
