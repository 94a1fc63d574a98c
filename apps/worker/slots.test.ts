import { describe, expect, it } from "vitest";
import { Slots } from "./slots.ts";

describe("Slots", () => {
  it("gives out at most its size, and takes them back", () => {
    const slots = new Slots(2);
    expect([slots.take(), slots.take(), slots.take()]).toEqual([true, true, false]);
    expect(slots.free).toBe(0);
    slots.release();
    expect(slots.free).toBe(1);
    expect(slots.take()).toBe(true);
    expect(() => new Slots(0)).toThrow(RangeError);
  });

  it("wakes every waiter when a place frees, and a waiter whose signal aborts", async () => {
    const slots = new Slots(1);
    slots.take();
    const woken: string[] = [];
    const never = new AbortController();
    const a = slots.whenFree(never.signal).then(() => woken.push("a"));
    const b = slots.whenFree(never.signal).then(() => woken.push("b"));
    const stop = new AbortController();
    const c = slots.whenFree(stop.signal).then(() => woken.push("c"));
    await Promise.resolve();
    expect(woken).toEqual([]);
    stop.abort();
    await c;
    expect(woken).toEqual(["c"]);
    slots.release();
    await Promise.all([a, b]);
    expect(woken.sort()).toEqual(["a", "b", "c"]);
    // Free already: at once.
    await slots.whenFree(never.signal);
    expect(() => slots.release()).toThrow(/more than taken/);
  });
});
