import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DLQ_STREAM, jobSubject, type JobMessage } from "../../libs/contracts/mod.ts";
import { listDeadLetters, resubmitDeadLetter } from "../../libs/queue/mod.ts";
import { appendEvent } from "../../libs/results/mod.ts";
import { newId } from "../../libs/ids/mod.ts";
import { defineJob, PermanentJobError, Type } from "../../libs/jobs/mod.ts";
import type { StreamConfig } from "@nats-io/jetstream";
import { startStack, eventNames, type Stack } from "../../test/helpers/stack.ts";

// Hooks into test-only job types: a handler that records how it was stopped, and a chatty one.
const aborted = new Map<string, unknown>();
const startedJobs = new Set<string>();
const blocker = defineJob({
  name: "blocker",
  schema: Type.Object({ ms: Type.Integer() }),
  async run(ctx) {
    startedJobs.add(ctx.jobId);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, ctx.payload.ms);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(t);
        aborted.set(ctx.jobId, ctx.signal.reason);
        reject(ctx.signal.reason);
      });
    });
    return "finished";
  },
});
const chatty = defineJob({
  name: "chatty",
  schema: Type.Object({ updates: Type.Integer() }),
  async run(ctx) {
    for (let i = 1; i <= ctx.payload.updates; i++) {
      ctx.progress((i / ctx.payload.updates) * 100, `update ${i}`);
      if (i % 1000 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    return { updates: ctx.payload.updates };
  },
});

// Reports progress every 10 ms until stopped; records why it was stopped.
const ticker = defineJob({
  name: "ticker",
  schema: Type.Object({}),
  async run(ctx) {
    startedJobs.add(ctx.jobId);
    for (let i = 0; !ctx.signal.aborted && i < 1_000; i++) {
      ctx.progress(i % 100);
      await new Promise((r) => setTimeout(r, 10));
    }
    aborted.set(ctx.jobId, ctx.signal.reason);
    return "ticked";
  },
});

// Fails on every attempt; on its last one it first cancels itself through the API (as its client
// would, at the worst moment): the `failed` it would store is then fenced out by `canceled`.
const canceledOnLastAttempt = defineJob({
  name: "canceled-on-last-attempt",
  schema: Type.Object({ authorization: Type.String() }),
  async run(ctx) {
    if (ctx.attempt === ctx.maxAttempts) {
      const res = await stack.http(`/v1/jobs/${ctx.jobId}`, {
        method: "DELETE",
        headers: { authorization: ctx.payload.authorization },
      });
      if (res.status !== 202) throw new Error(`cancel answered ${res.status}`);
    }
    throw new Error(`planned failure ${ctx.attempt} of ${ctx.maxAttempts}`);
  },
});

// Fails for good, and takes JOBS_DLQ away first: the `failed` event is stored, its dead letter is
// not (as when NATS fails between the two writes). The test puts the stream back.
let dlqConfig: StreamConfig | null = null;
const losesItsDeadLetter = defineJob({
  name: "loses-its-dead-letter",
  schema: Type.Object({}),
  async run() {
    dlqConfig = (await stack.nats.jsm.streams.info(DLQ_STREAM)).config;
    await stack.nats.jsm.streams.delete(DLQ_STREAM);
    throw new PermanentJobError("planned failure, with no JOBS_DLQ to keep it");
  },
});

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    workers: 2,
    jobTypes: [blocker, chatty, ticker, canceledOnLastAttempt, losesItsDeadLetter],
    env: { JOB_MAX_DELIVER: "3", JOB_ACK_WAIT: "2s", PROGRESS_INTERVAL_MS: "50" },
  });
});
afterAll(async () => stack?.close());

describe("worker lifecycle", () => {
  it("runs a sleep job: queued, started, a progress event per step, succeeded — in order, one attempt", async () => {
    const c = await stack.client();
    // Steps 5x the coalescing interval apart, so that each is stored as its own event.
    const { jobId } = await stack.submit(c.auth, "sleep", { ms: 1000, steps: 4 });
    const end = await stack.waitForTerminal(c.clientId, jobId);
    expect(end.event).toMatchObject({ event: "succeeded", attempt: 1, result: { sleptMs: 1000, steps: 4 } });
    const events = await stack.events(c.clientId, jobId);
    expect(eventNames(events)).toEqual([
      "queued",
      "started",
      "progress",
      "progress",
      "progress",
      "progress",
      "succeeded",
    ]);
    expect(events.filter((e) => e.event.event === "progress").map((e) => e.event.progress)).toEqual([
      { pct: 25, message: "step 1 of 4" },
      { pct: 50, message: "step 2 of 4" },
      { pct: 75, message: "step 3 of 4" },
      { pct: 100, message: "step 4 of 4" },
    ]);
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    // The API reports the same end state.
    const state = await (await stack.http(`/v1/jobs/${jobId}`, { headers: c.auth })).json();
    expect(state).toMatchObject({ status: "succeeded", result: { sleptMs: 1000, steps: 4 }, progress: { pct: 100 } });
  });

  it("returns echo's payload and a real sha256", async () => {
    const c = await stack.client();
    const echo = await stack.submit(c.auth, "echo", { nested: [1, "two", null] });
    const hash = await stack.submit(c.auth, "sha256", { data: "abc", rounds: 1 });
    expect((await stack.waitForTerminal(c.clientId, echo.jobId)).event.result).toEqual({ nested: [1, "two", null] });
    expect((await stack.waitForTerminal(c.clientId, hash.jobId)).event.result).toEqual({
      sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      rounds: 1,
    });
  });

  it("retries a flaky job with `retrying` events, then succeeds on the next attempt", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "flaky", { failTimes: 2 });
    const end = await stack.waitForTerminal(c.clientId, jobId);
    expect(end.event).toMatchObject({ event: "succeeded", attempt: 3, result: { succeededOnAttempt: 3 } });
    const events = await stack.events(c.clientId, jobId);
    expect(eventNames(events)).toEqual([
      "queued",
      "started",
      "retrying",
      "started",
      "retrying",
      "started",
      "succeeded",
    ]);
    expect(events[2]!.event.error).toEqual({ code: "handler_error", message: "flaky: planned failure 1 of 2" });
    expect(events.map((e) => e.event.attempt)).toEqual([0, 1, 1, 2, 2, 3, 3]);
  });

  it("fails for good after JOB_MAX_DELIVER attempts", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "flaky", { failTimes: 10 });
    const end = await stack.waitForTerminal(c.clientId, jobId);
    expect(end.event).toMatchObject({ event: "failed", attempt: 3, error: { code: "handler_error" } });
    expect(eventNames(await stack.events(c.clientId, jobId))).toEqual([
      "queued",
      "started",
      "retrying",
      "started",
      "retrying",
      "started",
      "failed",
    ]);
  });

  it("fails a `fail` job on its first attempt, without retries", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "fail", { message: "boom" });
    const end = await stack.waitForTerminal(c.clientId, jobId);
    expect(end.event).toMatchObject({ event: "failed", attempt: 1, error: { code: "job_failed", message: "boom" } });
    expect(eventNames(await stack.events(c.clientId, jobId))).toEqual(["queued", "started", "failed"]);
  });

  it("fails for good a job whose payload does not fit its type (published around the API)", async () => {
    const c = await stack.client();
    // An operator (or an older API) put a job straight on JOBS; it must not be redelivered forever.
    const { jobId } = await stack.submit(c.auth, "echo", {});
    const bad: JobMessage = {
      jobId,
      clientId: c.clientId,
      type: "sleep",
      payload: { ms: "x" },
      submittedAt: new Date().toISOString(),
    };
    // Reuse the job's queued event: only the JOBS message differs from a normal submit.
    await stack.nats.js.publish(jobSubject("sleep", c.clientId), JSON.stringify(bad));
    const end = await stack.waitForTerminal(c.clientId, jobId);
    // The echo delivery or the bad one may end it first; either way exactly one terminal event.
    const events = await stack.events(c.clientId, jobId);
    expect(events.filter((e) => ["succeeded", "failed", "canceled"].includes(e.event.event))).toHaveLength(1);
    expect(["succeeded", "failed"]).toContain(end.event.event);
  });

  it("runs a first delivery whose queuedSeq is out of date from the job's stored events (next attempt, fenced on the last one)", async () => {
    // A first delivery (delivery count 1) of a job whose events moved on since it was queued: an
    // earlier attempt ran on a delivery the server counted differently (nats-server before 2.10.14
    // could reset a nak'ed job's count to 1), or a job message was published again. The fence on
    // queuedSeq fails, and the worker must start over from what RESULTS holds, not give the job up.
    const c = await stack.client();
    const jobId = newId();
    const base = {
      jobId,
      clientId: c.clientId,
      type: "echo",
      progress: null,
      result: null,
      error: null,
      at: new Date().toISOString(),
    };
    const queuedSeq = await appendEvent(stack.nats.js, { ...base, event: "queued", attempt: 0 }, 0);
    const startedSeq = await appendEvent(stack.nats.js, { ...base, event: "started", attempt: 1 }, queuedSeq);
    await appendEvent(
      stack.nats.js,
      { ...base, event: "retrying", attempt: 1, error: { code: "handler_error", message: "x" } },
      startedSeq,
    );
    const job: JobMessage = {
      jobId,
      clientId: c.clientId,
      type: "echo",
      payload: "again",
      submittedAt: base.at,
      queuedSeq,
    };
    await expect
      .poll(async () => (await stack.nats.jsm.streams.info("JOBS")).state.messages, { timeout: 5_000 })
      .toBe(0);
    const deliveries = async () => (await stack.nats.jsm.consumers.info("JOBS", "workers")).delivered.consumer_seq;
    const deliveredBefore = await deliveries();
    await stack.nats.js.publish(jobSubject("echo", c.clientId), JSON.stringify(job));
    const end = await stack.waitForTerminal(c.clientId, jobId);
    expect(end.event).toMatchObject({ event: "succeeded", attempt: 2, result: "again" });
    expect(eventNames(await stack.events(c.clientId, jobId))).toEqual([
      "queued",
      "started",
      "retrying",
      "started",
      "succeeded",
    ]);
    await expect
      .poll(async () => (await stack.nats.jsm.streams.info("JOBS")).state.messages, { timeout: 5_000 })
      .toBe(0);
    // In that one delivery: not left to the ack timeout and a redelivery.
    expect((await deliveries()) - deliveredBefore).toBe(1);
  });

  it("fails a job of a type no worker knows, and terminates an unparseable message without crashing", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "echo", {});
    await stack.waitForTerminal(c.clientId, jobId);
    const ghost: JobMessage = {
      jobId: "01ARZ3NDEKTSV4RRFFQ69G5FAV",
      clientId: c.clientId,
      type: "ghost",
      payload: {},
      submittedAt: new Date().toISOString(),
    };
    await stack.nats.js.publish(jobSubject("ghost", c.clientId), JSON.stringify(ghost));
    await stack.nats.js.publish(jobSubject("echo", c.clientId), "{not json");
    const end = await stack.waitForTerminal(c.clientId, ghost.jobId);
    expect(end.event).toMatchObject({ event: "failed", error: { code: "unknown_job_type" } });
    // The queue drains: the garbage was terminated, not left for redelivery.
    await expect
      .poll(async () => (await stack.nats.jsm.streams.info("JOBS")).state.messages, { timeout: 5_000 })
      .toBe(0);
    // And the workers still run jobs.
    const next = await stack.submit(c.auth, "echo", "still alive");
    expect((await stack.waitForTerminal(c.clientId, next.jobId)).event.result).toBe("still alive");
  });

  it("coalesces a chatty handler's progress into a few events", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "chatty", { updates: 200_000 });
    await stack.waitForTerminal(c.clientId, jobId);
    const progress = (await stack.events(c.clientId, jobId)).filter((e) => e.event.event === "progress");
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.length).toBeLessThan(200);
    const pcts = progress.map((e) => e.event.progress!.pct);
    expect(pcts).toEqual([...pcts].sort((a, b) => a - b));
    // The last report, not yet stored when the handler returned, is carried by `succeeded`.
    const end = await stack.waitForTerminal(c.clientId, jobId);
    expect(end.event.progress).toEqual({ pct: 100, message: "update 200000" });
  });
});

describe("dead letters", () => {
  it("keeps a job that failed after its last attempt in JOBS_DLQ, with payload, attempts and last error; resubmitting runs it again as a new job", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "flaky", { failTimes: 3 }); // JOB_MAX_DELIVER is 3 here
    await stack.waitForTerminal(c.clientId, jobId);
    const letter = (await listDeadLetters(stack.nats.jsm)).find((l) => l.job.jobId === jobId);
    expect(letter).toMatchObject({
      job: { jobId, clientId: c.clientId, type: "flaky", payload: { failTimes: 3 } },
      attempts: 3,
      error: { code: "handler_error", message: "flaky: planned failure 3 of 3" },
    });
    // Resubmitted (by an operator, after a fix): a new job for the same client; attempts start over.
    const again = await resubmitDeadLetter({ ...stack.nats, registry: stack.registry }, jobId);
    expect(again.jobId).not.toBe(jobId);
    const end = await stack.waitForTerminal(c.clientId, again.jobId);
    // Still flaky with failTimes 3: it fails again, and is kept again — under its new id.
    expect(end.event).toMatchObject({ event: "failed", attempt: 3 });
    const letters = await listDeadLetters(stack.nats.jsm);
    expect(letters.some((l) => l.job.jobId === jobId)).toBe(false);
    expect(letters.find((l) => l.job.jobId === again.jobId)?.job.resubmittedFrom).toBe(jobId);
    const state = await (await stack.http(`/v1/jobs/${jobId}`, { headers: c.auth })).json();
    expect(state).toMatchObject({ status: "failed" }); // the original stays failed: one terminal event per job
  });

  it("keeps no dead letter for a job canceled while its last attempt failed: it stays canceled, and nothing runs it again", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "canceled-on-last-attempt", { authorization: c.auth.authorization });
    const end = await stack.waitForTerminal(c.clientId, jobId);
    expect(end.event).toMatchObject({ event: "canceled", attempt: 3 });
    // The worker has settled the delivery (acked) once JOBS holds nothing more.
    await expect
      .poll(async () => (await stack.nats.jsm.streams.info("JOBS")).state.messages, { timeout: 5_000 })
      .toBe(0);
    expect((await listDeadLetters(stack.nats.jsm)).some((l) => l.job.jobId === jobId)).toBe(false);
    const state = await (await stack.http(`/v1/jobs/${jobId}`, { headers: c.auth })).json();
    expect(state).toMatchObject({ status: "canceled" });
    expect(eventNames(await stack.events(c.clientId, jobId))).toEqual([
      "queued",
      "started",
      "retrying",
      "started",
      "retrying",
      "started",
      "canceled",
    ]);
  });

  it("keeps the dead letter of a job whose letter could not be stored after its `failed` (the redelivery stores it)", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "loses-its-dead-letter", {});
    const end = await stack.waitForTerminal(c.clientId, jobId);
    expect(end.event).toMatchObject({ event: "failed", error: { code: "permanent_failure" } });
    await stack.nats.jsm.streams.add(dlqConfig!);
    // The delivery was left unacked; it comes back after JOB_ACK_WAIT (2 s here) and keeps the letter.
    await expect
      .poll(async () => (await listDeadLetters(stack.nats.jsm)).find((l) => l.job.jobId === jobId), { timeout: 15_000 })
      .toMatchObject({
        job: { jobId, type: "loses-its-dead-letter" },
        attempts: 1,
        error: { code: "permanent_failure" },
      });
    await expect
      .poll(async () => (await stack.nats.jsm.streams.info("JOBS")).state.messages, { timeout: 10_000 })
      .toBe(0);
    expect(eventNames(await stack.events(c.clientId, jobId))).toEqual(["queued", "started", "failed"]);
  });

  it("keeps permanent failures too, and not succeeded or canceled jobs", async () => {
    const c = await stack.client();
    const failed = await stack.submit(c.auth, "fail", { message: "nope" });
    const ok = await stack.submit(c.auth, "echo", 1);
    await stack.waitForTerminal(c.clientId, failed.jobId);
    await stack.waitForTerminal(c.clientId, ok.jobId);
    const ids = (await listDeadLetters(stack.nats.jsm)).map((l) => l.job.jobId);
    expect(ids).toContain(failed.jobId);
    expect(ids).not.toContain(ok.jobId);
  });
});

describe("graceful stop", () => {
  it("lets running jobs finish within the grace period, and hands back (nak) those that do not", async () => {
    const c = await stack.client();
    const w = await stack.addWorker(2);
    // Park the other workers' capacity on long jobs so `w` takes the next two.
    const quick = await stack.submit(c.auth, "blocker", { ms: 300 });
    const slow = await stack.submit(c.auth, "blocker", { ms: 5_000 });
    await expect.poll(() => startedJobs.has(quick.jobId) && startedJobs.has(slow.jobId), { timeout: 5_000 }).toBe(true);
    const stopping = Date.now();
    await Promise.all(stack.workers.filter((x) => x !== w).map((x) => x.stop(1_000)));
    await w.stop(1_000);
    expect(Date.now() - stopping).toBeLessThan(4_000);
    expect((await stack.waitForTerminal(c.clientId, quick.jobId)).event.event).toBe("succeeded");
    // The slow one was aborted with reason "shutdown" and handed back: a new worker finishes it.
    expect(aborted.get(slow.jobId)).toBe("shutdown");
    await stack.addWorker();
    const end = await stack.waitForTerminal(c.clientId, slow.jobId, 15_000);
    expect(end.event).toMatchObject({ event: "succeeded", attempt: 2 });
  });
});

describe("long jobs and custom types", () => {
  it("keeps a job longer than the ack wait on its first attempt (in-progress acks)", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "blocker", { ms: 3_000 }); // JOB_ACK_WAIT is 2s here
    const end = await stack.waitForTerminal(c.clientId, jobId);
    expect(end.event).toMatchObject({ event: "succeeded", attempt: 1, result: "finished" });
    expect(eventNames(await stack.events(c.clientId, jobId))).toEqual(["queued", "started", "succeeded"]);
  });
});

describe("cancel", () => {
  it("cancels a running job: the handler sees an aborted signal, the job ends `canceled` once, the message is acked", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "blocker", { ms: 20_000 });
    // Wait until a worker runs it.
    await expect.poll(() => startedJobs.has(jobId), { timeout: 5_000 }).toBe(true);
    const res = await stack.http(`/v1/jobs/${jobId}`, { method: "DELETE", headers: c.auth });
    expect(res.status).toBe(202);
    await expect.poll(() => aborted.get(jobId), { timeout: 5_000 }).toBe("canceled");
    const events = await stack.events(c.clientId, jobId);
    expect(eventNames(events)).toEqual(["queued", "started", "canceled"]);
    await expect
      .poll(async () => (await stack.nats.jsm.consumers.info("JOBS", "workers")).num_ack_pending, { timeout: 5_000 })
      .toBe(0);
    expect((await stack.nats.jsm.streams.info("JOBS")).state.messages).toBe(0);
  });

  it("a job canceled in its first moments is told `canceled` (its next progress is refused), not superseded", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "ticker", {});
    await expect.poll(() => startedJobs.has(jobId), { timeout: 5_000, interval: 5 }).toBe(true);
    const res = await stack.http(`/v1/jobs/${jobId}`, { method: "DELETE", headers: c.auth });
    expect(res.status).toBe(202);
    await expect.poll(() => aborted.get(jobId), { timeout: 5_000 }).toBe("canceled");
    const names = eventNames(await stack.events(c.clientId, jobId));
    expect(names.filter((n) => ["succeeded", "failed", "canceled"].includes(n))).toEqual(["canceled"]);
    await expect
      .poll(async () => (await stack.nats.jsm.consumers.info("JOBS", "workers")).num_ack_pending, { timeout: 5_000 })
      .toBe(0);
  });

  it("a job canceled while queued never runs", async () => {
    const c = await stack.client();
    // Fill every worker slot so the next job waits in JOBS.
    const fillers = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const { jobId } = await stack.submit(c.auth, "blocker", { ms: 1_500 });
        return jobId;
      }),
    );
    const { jobId } = await stack.submit(c.auth, "blocker", { ms: 10 });
    const res = await stack.http(`/v1/jobs/${jobId}`, { method: "DELETE", headers: c.auth });
    expect(res.status).toBe(202);
    await Promise.all(fillers.map((id) => stack.waitForTerminal(c.clientId, id)));
    await expect
      .poll(async () => (await stack.nats.jsm.streams.info("JOBS")).state.messages, { timeout: 5_000 })
      .toBe(0);
    expect(eventNames(await stack.events(c.clientId, jobId))).toEqual(["queued", "canceled"]);
  });

  it("exactly one terminal event when a cancel races the job's success, over many rounds", async () => {
    const c = await stack.client();
    const outcomes = { succeeded: 0, canceled: 0 };
    for (let round = 0; round < 40; round++) {
      const { jobId } = await stack.submit(c.auth, "sleep", { ms: round % 8 });
      const cancel = await stack.http(`/v1/jobs/${jobId}`, { method: "DELETE", headers: c.auth });
      expect([202, 409]).toContain(cancel.status);
      const end = await stack.waitForTerminal(c.clientId, jobId);
      // Give a loser time to (wrongly) write a second terminal event before counting.
      await new Promise((r) => setTimeout(r, 20));
      const events = await stack.events(c.clientId, jobId);
      const terminals = events.filter((e) => ["succeeded", "failed", "canceled"].includes(e.event.event));
      expect(terminals, JSON.stringify(eventNames(events))).toHaveLength(1);
      expect(terminals[0]!.event.event).toBe(cancel.status === 202 ? "canceled" : "succeeded");
      outcomes[end.event.event as "succeeded" | "canceled"]++;
    }
    expect(outcomes.succeeded + outcomes.canceled).toBe(40);
  });
});
