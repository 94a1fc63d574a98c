import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isTerminal, type JobMessage } from "../../libs/contracts/mod.ts";
import { defineJob, Type } from "../../libs/jobs/mod.ts";
import { listDeadLetters } from "../../libs/queue/mod.ts";
import { readLastEvent, type StoredEvent } from "../../libs/results/mod.ts";
import { eventNames, startStack, type Stack } from "../../test/helpers/stack.ts";
import { AttemptTimedOutError, attemptTimeLimitMs } from "./timeLimit.ts";

const job = (timeoutMs?: unknown): JobMessage =>
  ({
    jobId: "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    clientId: "c",
    type: "t",
    payload: null,
    submittedAt: new Date().toISOString(),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  }) as JobMessage;

describe("attemptTimeLimitMs", () => {
  it("is the shorter of the job's own limit and its type's; null when neither has one", () => {
    expect(attemptTimeLimitMs(job(), null)).toBeNull();
    expect(attemptTimeLimitMs(job(), 5_000)).toBe(5_000);
    expect(attemptTimeLimitMs(job(300), null)).toBe(300);
    expect(attemptTimeLimitMs(job(300), 5_000)).toBe(300);
    // The type's limit was shortened after the job was queued.
    expect(attemptTimeLimitMs(job(10_000), 5_000)).toBe(5_000);
  });

  it("ignores a job limit that is not one (a message published around the API)", () => {
    for (const bad of [0, -1, 1.5, "10s", null]) expect(attemptTimeLimitMs(job(bad), 5_000)).toBe(5_000);
  });
});

describe("AttemptTimedOutError", () => {
  it("says the limit as a person would write it, under the code `timeout`", () => {
    expect(new AttemptTimedOutError(300).toJobError()).toEqual({
      code: "timeout",
      message: "the attempt ran past its time limit of 300ms",
    });
    expect(new AttemptTimedOutError(10_000).message).toMatch(/of 10s$/);
    expect(new AttemptTimedOutError(300_000).message).toMatch(/of 5m$/);
    expect(new AttemptTimedOutError(1_500).message).toMatch(/of 1500ms$/);
  });
});

// What the handlers saw, by job id and attempt: why their signal fired, and what an ignoring
// handler reported after it fired.
const reasons = new Map<string, unknown>();
const lateReports = new Map<string, number>();
const handlersDone = new Set<string>();
const key = (jobId: string, attempt: number) => `${jobId}/${attempt}`;

/** Resolves when the signal fires, recording its reason. */
function aborted(signal: AbortSignal, k: string): Promise<void> {
  return new Promise((resolve) =>
    signal.addEventListener(
      "abort",
      () => {
        reasons.set(k, signal.reason);
        resolve();
      },
      { once: true },
    ),
  );
}

// Waits for its signal on its first `slowAttempts` attempts (and throws its reason, as a handler
// that honours it does); later attempts return at once.
const honours = defineJob({
  name: "honours-limit",
  timeout: 300,
  schema: Type.Object({ slowAttempts: Type.Integer() }),
  async run(ctx) {
    if (ctx.attempt > ctx.payload.slowAttempts) return { attempt: ctx.attempt };
    ctx.progress(10, "waiting for the limit");
    await aborted(ctx.signal, key(ctx.jobId, ctx.attempt));
    throw ctx.signal.reason;
  },
});

/** Whether the job's stored events say that attempt `attempt` has ended: its `retrying` or a terminal event, or a later attempt. */
async function attemptEnded(clientId: string, jobId: string, attempt: number): Promise<boolean> {
  const last = (await readLastEvent(stack.nats.jsm, clientId, jobId))!.event;
  return last.attempt > attempt || last.event === "retrying" || isTerminal(last.event);
}

/** Whether the job has moved on past attempt `attempt`: a later attempt has started, or the job has ended. */
async function movedOn(clientId: string, jobId: string, attempt: number): Promise<boolean> {
  const last = (await readLastEvent(stack.nats.jsm, clientId, jobId))!.event;
  return last.attempt > attempt || isTerminal(last.event);
}

// On its first `slowAttempts` attempts: ignores its signal and keeps reporting progress, 30 ms
// apart (above the coalescing interval, so that each would be stored on its own), until it has
// reported 8 times after its attempt's `retrying` or `failed` was stored, and the job has moved on
// (a next attempt has started, or the job has ended): if the attempt waited for this handler,
// neither would ever happen. Then it waits a little past the interval (a report held back would be
// written by then) and returns. Later attempts return at once.
const ignores = defineJob({
  name: "ignores-limit",
  timeout: "300ms",
  schema: Type.Object({ slowAttempts: Type.Integer() }),
  async run(ctx) {
    const k = key(ctx.jobId, ctx.attempt);
    if (ctx.attempt > ctx.payload.slowAttempts) return { attempt: ctx.attempt };
    void aborted(ctx.signal, k);
    let late = 0;
    for (let i = 0; late < 8 || !(await movedOn(ctx.clientId, ctx.jobId, ctx.attempt)); i++) {
      ctx.progress(i % 100, `tick ${i}`);
      if (ctx.signal.aborted && (await attemptEnded(ctx.clientId, ctx.jobId, ctx.attempt))) lateReports.set(k, ++late);
      await new Promise((r) => setTimeout(r, 30));
    }
    await new Promise((r) => setTimeout(r, 100));
    handlersDone.add(k);
    return "too late";
  },
});

// Sleeps `ms` unless its signal fires; its type's limit is far away.
const patient = defineJob({
  name: "patient",
  timeout: "1m",
  schema: Type.Object({ ms: Type.Integer(), slowAttempts: Type.Optional(Type.Integer()) }),
  async run(ctx) {
    if (ctx.attempt > (ctx.payload.slowAttempts ?? Number.MAX_SAFE_INTEGER)) return { attempt: ctx.attempt };
    const k = key(ctx.jobId, ctx.attempt);
    await Promise.race([aborted(ctx.signal, k), new Promise((r) => setTimeout(r, ctx.payload.ms))]);
    ctx.signal.throwIfAborted();
    return { attempt: ctx.attempt, sleptMs: ctx.payload.ms };
  },
});

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    workers: 2,
    jobTypes: [honours, ignores, patient],
    env: { JOB_MAX_DELIVER: "3", JOB_ACK_WAIT: "1s", PROGRESS_INTERVAL_MS: "20" },
  });
});
afterAll(async () => stack?.close());

async function submit(
  auth: { authorization: string },
  body: { type: string; payload?: unknown; timeout?: unknown },
): Promise<{ jobId: string }> {
  const res = await stack.http("/v1/jobs", {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await res.json();
  if (res.status !== 202) throw new Error(`POST /v1/jobs: ${res.status} ${JSON.stringify(answer)}`);
  return answer as { jobId: string };
}

/** Each attempt's events end with its `retrying` or terminal event: nothing of it is stored after. */
function expectNothingAfterEachAttemptEnded(events: StoredEvent[]): void {
  const attempts = new Set(events.map((e) => e.event.attempt).filter((a) => a > 0));
  for (const a of attempts) {
    const own = events.filter((e) => e.event.attempt === a);
    expect(["retrying", "succeeded", "failed"], `attempt ${a}: ${eventNames(own)}`).toContain(own.at(-1)!.event.event);
    const end = own.at(-1)!.seq;
    const later = events.filter((e) => e.seq > end && e.event.attempt === a);
    expect(later, `attempt ${a}`).toEqual([]);
  }
}

const timedOutCount = async (type: string) =>
  (await stack.metrics.jobsTimedOut.get()).values.find((v) => v.labels.type === type)?.value ?? 0;

describe("time limits", () => {
  it("aborts an attempt past its type's limit with reason `timeout`, stores `retrying` (code timeout), and retries", async () => {
    const c = await stack.client();
    const before = await timedOutCount("honours-limit");
    const { jobId } = await submit(c.auth, { type: "honours-limit", payload: { slowAttempts: 1 } });
    const end = await stack.waitForTerminal(c.clientId, jobId);
    expect(end.event).toMatchObject({ event: "succeeded", attempt: 2, result: { attempt: 2 } });
    expect(reasons.get(key(jobId, 1))).toBe("timeout");
    const events = await stack.events(c.clientId, jobId);
    expect(eventNames(events).filter((n) => n !== "progress")).toEqual([
      "queued",
      "started",
      "retrying",
      "started",
      "succeeded",
    ]);
    expect(events.find((e) => e.event.event === "retrying")!.event).toMatchObject({
      attempt: 1,
      error: { code: "timeout", message: "the attempt ran past its time limit of 300ms" },
      // The progress the attempt reported rides on its `retrying`.
      progress: { pct: 10, message: "waiting for the limit" },
    });
    expect(await timedOutCount("honours-limit")).toBe(before + 1);
  });

  it("fails a job for good with code `timeout` when its last attempt times out, and keeps its dead letter", async () => {
    const c = await stack.client();
    const { jobId } = await submit(c.auth, { type: "honours-limit", payload: { slowAttempts: 99 } });
    const end = await stack.waitForTerminal(c.clientId, jobId);
    expect(end.event).toMatchObject({ event: "failed", attempt: 3, error: { code: "timeout" } });
    expect(eventNames(await stack.events(c.clientId, jobId)).filter((n) => n !== "progress")).toEqual([
      "queued",
      "started",
      "retrying",
      "started",
      "retrying",
      "started",
      "failed",
    ]);
    for (const attempt of [1, 2, 3]) expect(reasons.get(key(jobId, attempt))).toBe("timeout");
    await expect
      .poll(async () => (await listDeadLetters(stack.nats.jsm)).find((l) => l.job.jobId === jobId), { timeout: 5_000 })
      .toMatchObject({ attempts: 3, error: { code: "timeout" }, job: { type: "honours-limit" } });
  });

  it("stores nothing a handler that ignores its signal reports after the limit; the next attempt runs meanwhile", async () => {
    const c = await stack.client();
    const { jobId } = await submit(c.auth, { type: "ignores-limit", payload: { slowAttempts: 1 } });
    const end = await stack.waitForTerminal(c.clientId, jobId);
    // The attempt settled at its limit: the second one ran while the first handler still reported.
    expect(end.event).toMatchObject({ event: "succeeded", attempt: 2 });
    await expect.poll(() => handlersDone.has(key(jobId, 1)), { timeout: 10_000 }).toBe(true);
    expect(reasons.get(key(jobId, 1))).toBe("timeout");
    expect(lateReports.get(key(jobId, 1))).toBeGreaterThanOrEqual(8);
    const events = await stack.events(c.clientId, jobId);
    expectNothingAfterEachAttemptEnded(events);
    expect(eventNames(events).filter((n) => n !== "progress")).toEqual([
      "queued",
      "started",
      "retrying",
      "started",
      "succeeded",
    ]);
  });

  it("stores nothing after `failed` when the last attempt's handler ignores its signal", async () => {
    const c = await stack.client();
    const { jobId } = await submit(c.auth, { type: "ignores-limit", payload: { slowAttempts: 3 } });
    const end = await stack.waitForTerminal(c.clientId, jobId);
    expect(end.event).toMatchObject({ event: "failed", attempt: 3, error: { code: "timeout" } });
    await expect.poll(() => [1, 2, 3].every((a) => handlersDone.has(key(jobId, a))), { timeout: 10_000 }).toBe(true);
    for (const a of [1, 2, 3]) expect(lateReports.get(key(jobId, a))).toBeGreaterThanOrEqual(8);
    const events = await stack.events(c.clientId, jobId);
    expect(events.at(-1)!.seq).toBe(end.seq);
    expectNothingAfterEachAttemptEnded(events);
  });

  it("applies a job's own shorter timeout", async () => {
    const c = await stack.client();
    const { jobId } = await submit(c.auth, {
      type: "patient",
      payload: { ms: 30_000, slowAttempts: 1 },
      timeout: "200ms",
    });
    const end = await stack.waitForTerminal(c.clientId, jobId);
    expect(end.event).toMatchObject({ event: "succeeded", attempt: 2 });
    expect(reasons.get(key(jobId, 1))).toBe("timeout");
    const retrying = (await stack.events(c.clientId, jobId)).find((e) => e.event.event === "retrying")!;
    expect(retrying.event.error).toEqual({ code: "timeout", message: "the attempt ran past its time limit of 200ms" });
  });

  it("gives a job of a type without a limit the limit it asks for", async () => {
    const c = await stack.client();
    const { jobId } = await submit(c.auth, { type: "sleep", payload: { ms: 30_000 }, timeout: 250 });
    const end = await stack.waitForTerminal(c.clientId, jobId);
    expect(end.event).toMatchObject({
      event: "failed",
      attempt: 3,
      error: { code: "timeout", message: "the attempt ran past its time limit of 250ms" },
    });
  });

  it("runs a job past the ack wait inside its limit, and a job of a type without a limit as before (in-progress acks)", async () => {
    const c = await stack.client();
    // JOB_ACK_WAIT is 1s here.
    const within = await submit(c.auth, { type: "patient", payload: { ms: 2_500 } });
    const unlimited = await submit(c.auth, { type: "sleep", payload: { ms: 2_500 } });
    for (const { jobId } of [within, unlimited]) {
      const end = await stack.waitForTerminal(c.clientId, jobId);
      expect(end.event).toMatchObject({ event: "succeeded", attempt: 1 });
      expect(eventNames(await stack.events(c.clientId, jobId)).filter((n) => n !== "progress")).toEqual([
        "queued",
        "started",
        "succeeded",
      ]);
    }
  });

  it("shows each type's limit in GET /v1/job-types", async () => {
    const types = (await (await stack.http("/v1/job-types")).json()) as { name: string; timeoutMs: number | null }[];
    const limits = Object.fromEntries(types.map((t) => [t.name, t.timeoutMs]));
    expect(limits).toMatchObject({ "honours-limit": 300, "ignores-limit": 300, patient: 60_000, sleep: null });
  });
});
