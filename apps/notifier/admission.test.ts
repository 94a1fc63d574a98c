import { describe, expect, it } from "vitest";
import { Admission, StreamShedError } from "./admission.ts";

const never = new AbortController().signal;

describe("admission of resumes", () => {
  it("runs `concurrency` at once, queues the next in order, sheds past the queue with a jittered Retry-After", async () => {
    const a = new Admission({ concurrency: 2, queue: 2, queueMs: 60_000, retryAfterS: [1, 5] });
    const [r1, r2] = [await a.acquire(never), await a.acquire(never)];
    const order: number[] = [];
    const q3 = a.acquire(never).then((r) => {
      order.push(3);
      return r;
    });
    const q4 = a.acquire(never).then((r) => {
      order.push(4);
      return r;
    });
    expect([a.running, a.waiting]).toEqual([2, 2]);
    const shed = await a.acquire(never).catch((e: unknown) => e);
    expect(shed).toBeInstanceOf(StreamShedError);
    const retry = Number((shed as StreamShedError).headers["retry-after"]);
    expect(retry).toBeGreaterThanOrEqual(1);
    expect(retry).toBeLessThanOrEqual(5);
    r1();
    r1(); // freeing twice frees once
    const r3 = await q3;
    expect([a.running, a.waiting]).toEqual([2, 1]);
    r2();
    const r4 = await q4;
    expect(order).toEqual([3, 4]);
    r3();
    r4();
    expect([a.running, a.waiting]).toEqual([0, 0]);
  });

  it("sheds a resume that waited longer than queueMs, and gives up the place of a client that left", async () => {
    const a = new Admission({ concurrency: 1, queue: 10, queueMs: 20, retryAfterS: [2, 2] });
    const r1 = await a.acquire(never);
    await expect(a.acquire(never)).rejects.toMatchObject({ reason: "overloaded", status: 503 });
    const gone = new AbortController();
    const left = a.acquire(gone.signal);
    gone.abort();
    await expect(left).rejects.toThrow(/gone/);
    expect(a.waiting).toBe(0);
    r1();
    expect(a.running).toBe(0);
  });

  it("spreads Retry-After over its range", () => {
    const a = new Admission({ concurrency: 1, queue: 0, queueMs: 0, retryAfterS: [1, 5] });
    const seen = new Set(Array.from({ length: 500 }, () => a.retryAfter()));
    expect([...seen].sort()).toEqual([1, 2, 3, 4, 5]);
  });
});
