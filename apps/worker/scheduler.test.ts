import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JOBS_STREAM, SCHEDULED_STREAM, SCHEDULER_CONSUMER, type JobMessage } from "../../libs/contracts/mod.ts";
import { moveDueJob } from "../../libs/queue/mod.ts";
import { createLogger } from "../../libs/log/mod.ts";
import { startStack, eventNames, type Stack } from "../../test/helpers/stack.ts";
import { runScheduledDelivery } from "./scheduledDelivery.ts";

// Scheduled jobs against a real nats-server. Timing: runAt and every event's `at` come from the
// same machine's clock in whole milliseconds, and the scheduler moves a job only once
// Date.now() >= runAt, before the worker creates `started`; so `started.at >= runAt` holds
// exactly, with no tolerance. "Within a second after" is checked with the second itself.

type Auth = { authorization: string };

async function submitLater(stack: Stack, auth: Auth, body: Record<string, unknown>) {
  const res = await stack.http("/v1/jobs", {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ type: "echo", payload: { n: 1 }, ...body }),
  });
  const json = (await res.json()) as { jobId: string; status: string; eventId: number };
  if (res.status !== 202) throw new Error(`POST /v1/jobs: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** The job's `queued` runAt and `started` times, checked: never early, within a second. */
async function expectRanOnTime(stack: Stack, clientId: string, jobId: string) {
  const events = await stack.events(clientId, jobId);
  const runAt = events[0]!.event.runAt!;
  const starts = events.filter((e) => e.event.event === "started");
  expect(starts.length, `${jobId}: started once`).toBe(1);
  const lateMs = Date.parse(starts[0]!.event.at) - Date.parse(runAt);
  expect(lateMs, `${jobId}: started ${lateMs} ms after its runAt`).toBeGreaterThanOrEqual(0);
  return { events, lateMs };
}

const scheduledCount = async (stack: Stack) => (await stack.nats.jsm.streams.info(SCHEDULED_STREAM)).state.messages;

describe("scheduled jobs, with workers", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: 2 });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("delay: 202 scheduled, GET scheduled until due, then it runs no earlier than runAt and within a second", async () => {
    const c = await stack.client();
    const submittedAt = Date.now();
    const job = await submitLater(stack, c.auth, { delay: "1500ms" });
    expect(job.status).toBe("scheduled");
    const state = (await (await stack.http(`/v1/jobs/${job.jobId}`, { headers: c.auth })).json()) as {
      status: string;
      runAt: string;
    };
    expect(state.status).toBe("scheduled");
    expect(Date.parse(state.runAt) - submittedAt).toBeGreaterThanOrEqual(1_500);
    expect(Date.parse(state.runAt) - submittedAt).toBeLessThan(2_500);
    const [queued] = await stack.events(c.clientId, job.jobId);
    expect(queued!.event).toMatchObject({ event: "queued", runAt: state.runAt });

    await stack.waitForTerminal(c.clientId, job.jobId);
    const { events, lateMs } = await expectRanOnTime(stack, c.clientId, job.jobId);
    expect(eventNames(events)).toEqual(["queued", "started", "succeeded"]);
    expect(lateMs).toBeLessThan(1_000);
    // Only the `queued` event carries runAt.
    expect(events.slice(1).map((e) => e.event.runAt)).toEqual([undefined, undefined]);
    const done = (await (await stack.http(`/v1/jobs/${job.jobId}`, { headers: c.auth })).json()) as object;
    expect(done).toMatchObject({ status: "succeeded", runAt: state.runAt });
  });

  it("runAt: several jobs due at different times each run at theirs, none early", async () => {
    const c = await stack.client();
    const base = Date.now();
    const jobs = await Promise.all(
      [1_000, 1_300, 1_600, 2_000].map((ms) =>
        submitLater(stack, c.auth, { runAt: new Date(base + ms).toISOString() }),
      ),
    );
    for (const j of jobs) await stack.waitForTerminal(c.clientId, j.jobId);
    for (const j of jobs) expect((await expectRanOnTime(stack, c.clientId, j.jobId)).lateMs).toBeLessThan(1_000);
  });

  it("a runAt just past (within the tolerance), or a zero delay, runs at once: status queued, never in SCHEDULED", async () => {
    const c = await stack.client();
    const before = await scheduledCount(stack);
    const a = await submitLater(stack, c.auth, { runAt: new Date(Date.now() - 2_000).toISOString() });
    const b = await submitLater(stack, c.auth, { delay: 0 });
    expect([a.status, b.status]).toEqual(["queued", "queued"]);
    expect(await scheduledCount(stack)).toBe(before);
    for (const j of [a, b]) expect((await stack.waitForTerminal(c.clientId, j.jobId)).event.event).toBe("succeeded");
  });

  it("canceled while scheduled: 202 canceled, it never runs, and leaves SCHEDULED when it would have been due", async () => {
    const c = await stack.client();
    const job = await submitLater(stack, c.auth, { delay: "1s" });
    const del = await stack.http(`/v1/jobs/${job.jobId}`, { method: "DELETE", headers: c.auth });
    expect(del.status).toBe(202);
    expect(await del.json()).toMatchObject({ status: "canceled", runAt: expect.any(String) });
    await new Promise((r) => setTimeout(r, 2_500));
    expect(eventNames(await stack.events(c.clientId, job.jobId))).toEqual(["queued", "canceled"]);
    expect(await scheduledCount(stack)).toBe(0);
  });

  it("survives a nats-server restart (SIGTERM, and SIGKILL right after the naks): every job runs once, none early", async () => {
    const c = await stack.client();
    for (const signal of ["SIGTERM", "SIGKILL"] as const) {
      const base = Date.now();
      const jobs = await Promise.all(
        [1_500, 2_000, 2_500, 3_000].map((ms) =>
          submitLater(stack, c.auth, { runAt: new Date(base + ms).toISOString() }),
        ),
      );
      // SIGKILL: within the ~100 ms in which the server may not yet have written the schedulers'
      // naks; SIGTERM: after, so that the parked deadlines come back from the store (in whole seconds).
      await new Promise((r) => setTimeout(r, signal === "SIGKILL" ? 20 : 500));
      await stack.restartNats({ signal, downMs: 300 });
      // A lost nak or delivery comes back after the scheduler's ack_wait (10 s): late, not early.
      for (const j of jobs) await stack.waitForTerminal(c.clientId, j.jobId, 30_000);
      for (const j of jobs) {
        const { events } = await expectRanOnTime(stack, c.clientId, j.jobId);
        expect(eventNames(events), signal).toEqual(["queued", "started", "succeeded"]);
      }
    }
    expect(await scheduledCount(stack)).toBe(0);
  }, 90_000);

  it("/metrics: herald_scheduled_jobs follows SCHEDULED (refreshed every 5 s)", async () => {
    const c = await stack.client();
    const before = await scheduledCount(stack);
    await submitLater(stack, c.auth, { delay: "10m" });
    const gauge = async () =>
      (await stack.metrics.registry.getSingleMetric("herald_scheduled_jobs")!.get()).values[0]!.value;
    const deadline = Date.now() + 8_000;
    while ((await gauge()) !== before + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await gauge()).toBe(before + 1);
  });
});

describe("a scheduled delivery that comes back early (no workers: the test plays the scheduler)", () => {
  let stack: Stack;
  beforeAll(async () => {
    // One job of a type per client in JOBS, so that a due job can be refused.
    stack = await startStack({ workers: 0, env: { JOBS_MAX_QUEUED_PER_CLIENT: "1" } });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("is parked again for the time left, however often it comes back, and moved to JOBS only once due", async () => {
    const c = await stack.client();
    const job = await submitLater(stack, c.auth, { delay: "2s" });
    const consumer = await stack.nats.js.consumers.get(SCHEDULED_STREAM, SCHEDULER_CONSUMER);
    const deps = { ...stack.nats, registry: stack.registry, log: createLogger({ level: "silent" }) };
    const next = async () => {
      const m = await consumer.next({ expires: 5_000 });
      if (!m) throw new Error("no delivery");
      return m;
    };
    // What a server restart or a lost nak does: the message is back well before its runAt.
    const first = await next();
    first.nak(100);
    const early = await next();
    expect(early.info.deliveryCount).toBe(2);
    expect(await runScheduledDelivery(deps, early)).toBe("parked");
    // The nak was for the time left: nothing comes back before the runAt.
    const back = await next();
    const runAt = Date.parse((await stack.events(c.clientId, job.jobId))[0]!.event.runAt!);
    expect(Date.now()).toBeGreaterThanOrEqual(runAt);
    expect((await stack.nats.jsm.streams.info(JOBS_STREAM)).state.messages).toBe(0);
    expect(await runScheduledDelivery(deps, back)).toBe("moved");
    expect((await stack.nats.jsm.streams.info(JOBS_STREAM)).state.messages).toBe(1);
    // Moved twice (a scheduler that died before its ack): JOBS keeps one, by Msg-Id.
    await moveDueJob(stack.nats.js, back.json<JobMessage>(), "shared");
    expect((await stack.nats.jsm.streams.info(JOBS_STREAM)).state.messages).toBe(1);
    await new Promise((r) => setTimeout(r, 200));
    expect(await scheduledCount(stack)).toBe(0);
  });

  it("a job whose last event is not `queued` (canceled, or moved and started) is acked and dropped", async () => {
    const c = await stack.client();
    const job = await submitLater(stack, c.auth, { delay: "1s" });
    await stack.http(`/v1/jobs/${job.jobId}`, { method: "DELETE", headers: c.auth });
    const consumer = await stack.nats.js.consumers.get(SCHEDULED_STREAM, SCHEDULER_CONSUMER);
    const deps = { ...stack.nats, registry: stack.registry, log: createLogger({ level: "silent" }) };
    const m = await consumer.next({ expires: 5_000 });
    expect(await runScheduledDelivery(deps, m!)).toBe("dropped");
    await new Promise((r) => setTimeout(r, 200));
    expect(await scheduledCount(stack)).toBe(0);
    expect((await stack.nats.jsm.streams.info(JOBS_STREAM)).state.messages).toBe(1); // the previous test's
  });

  it("a due job that JOBS refuses (the client's bound) stays scheduled and is tried again, then moved", async () => {
    const c = await stack.client();
    const now = await submitLater(stack, c.auth, {}); // fills the client's one place for `echo` in JOBS
    const job = await submitLater(stack, c.auth, { delay: "300ms" });
    const consumer = await stack.nats.js.consumers.get(SCHEDULED_STREAM, SCHEDULER_CONSUMER);
    const deps = { ...stack.nats, registry: stack.registry, log: createLogger({ level: "silent" }) };
    const next = async () => (await consumer.next({ expires: 5_000 }))!;
    expect(await runScheduledDelivery(deps, await next())).toBe("parked");
    expect(await runScheduledDelivery(deps, await next())).toBe("refused");
    expect(await scheduledCount(stack)).toBe(1);
    expect(eventNames(await stack.events(c.clientId, job.jobId))).toEqual(["queued"]);
    // The place frees up (the first job ran): the retry, a second later, moves it.
    await stack.nats.jsm.streams.purge(JOBS_STREAM, { filter: `jobs.echo.${c.clientId}` });
    const retried = await next();
    expect(await runScheduledDelivery(deps, retried)).toBe("moved");
    expect(retried.json<JobMessage>().jobId).toBe(job.jobId);
    expect(now.status).toBe("queued");
  });
});
