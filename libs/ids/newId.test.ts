import { describe, expect, it } from "vitest";
import { decodeTime, isValid } from "ulid";
import { isJobId } from "../contracts/mod.ts";
import { newId } from "./mod.ts";

describe("newId", () => {
  it("makes valid, time-ordered ULIDs that do not repeat, across many refills of the random pool", () => {
    const before = Date.now();
    const ids = Array.from({ length: 20_000 }, () => newId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids.slice(0, 100)) {
      expect(isValid(id) && isJobId(id)).toBe(true);
      expect(decodeTime(id)).toBeGreaterThanOrEqual(before);
      expect(decodeTime(id)).toBeLessThanOrEqual(Date.now());
    }
  });

  it("spreads its random part over the whole alphabet, evenly", () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 5_000; i++) for (const ch of newId().slice(10)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(32);
    const expected = (5_000 * 16) / 32;
    for (const n of counts.values()) expect(Math.abs(n - expected) / expected).toBeLessThan(0.15);
  });
});
