import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JOBS_STREAM, RESULTS_STREAM, type JobEvent } from "../../libs/contracts/mod.ts";
import { appendEvent } from "../../libs/results/mod.ts";
import { drainAndClose } from "../../libs/http/mod.ts";
import { startStack, type Stack } from "../../test/helpers/stack.ts";

// GET /v1/jobs/:id?wait= against a real nats-server over real HTTP, with no worker: a job ends when
// the test stores its events (as a worker would) or cancels it. Each wait here is longer than the
// test's own timeout (30 s) unless the test is about running out: an answer that waited it out fails.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => stack?.close());

type Client = Awaited<ReturnType<Stack["client"]>>;
interface State {
  status: string;
  event: string;
  result: unknown;
  finishedAt: string | null;
  eventId: number;
  createdAt: string;
}

/** The api's herald_job_waiters gauge, as /metrics shows it. */
async function waiters(): Promise<number> {
  const text = await (await stack.http("/metrics")).text();
  return Number(/^herald_job_waiters\{[^}]*\} (\d+)$/m.exec(text)?.[1]);
}

/** Stores the events a worker would (started, then succeeded with `result`) after the job's `queued`. */
async function succeed(job: { jobId: string; eventId: number }, result: unknown): Promise<void> {
  const queued = await stack.nats.jsm.streams.getMessage(RESULTS_STREAM, { seq: job.eventId });
  const base = queued!.json<JobEvent>();
  const started: JobEvent = { ...base, event: "started", attempt: 1, at: new Date().toISOString() };
  const startedSeq = await appendEvent(stack.nats.js, started, job.eventId);
  await appendEvent(
    stack.nats.js,
    { ...started, event: "succeeded", result, at: new Date().toISOString() },
    startedSeq,
  );
}

const get = (c: Client, jobId: string, query = "", headers: Record<string, string> = {}) =>
  stack.http(`/v1/jobs/${jobId}${query}`, { headers: { ...c.auth, ...headers } });

describe("GET /v1/jobs/:id?wait=", () => {
  it("answers at once for a job that has ended: its final state, no Retry-After", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "echo", {});
    expect((await stack.http(`/v1/jobs/${jobId}`, { method: "DELETE", headers: c.auth })).status).toBe(202);
    const res = await get(c, jobId, "?wait=60");
    expect(res.status).toBe(200);
    expect(res.headers.get("retry-after")).toBeNull();
    expect(await res.json()).toMatchObject({ jobId, status: "canceled", finishedAt: expect.any(String) });
  });

  it("answers as soon as the job ends during the wait, with its terminal state", async () => {
    const c = await stack.client();
    const job = await stack.submit(c.auth, "echo", { v: 1 });
    const pending = get(c, job.jobId, "?wait=60");
    await expect.poll(waiters).toBe(1);
    await succeed(job, { answer: 42 });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.headers.get("retry-after")).toBeNull();
    const state = (await res.json()) as State;
    expect(state).toMatchObject({ status: "succeeded", event: "succeeded", result: { answer: 42 } });
    expect(state.finishedAt).not.toBeNull();
    // The same answer as a plain read now.
    expect(await (await get(c, job.jobId)).json()).toEqual(state);
    expect(await waiters()).toBe(0);
  });

  it("answers the current state with Retry-After when the wait runs out", async () => {
    const c = await stack.client();
    const { jobId, eventId } = await stack.submit(c.auth, "echo", {});
    const res = await get(c, jobId, "?wait=1");
    expect(res.status).toBe(200);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.headers.get("preference-applied")).toBeNull();
    expect(await res.json()).toMatchObject({ jobId, status: "queued", finishedAt: null, eventId });
    expect(await waiters()).toBe(0);
  });

  it("takes Prefer: wait=<seconds> (RFC 7240) and says it was applied", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "echo", {});
    const res = await get(c, jobId, "", { prefer: "respond-async, wait=1" });
    expect(res.status).toBe(200);
    expect(res.headers.get("preference-applied")).toBe("wait=1");
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toMatchObject({ status: "queued" });

    const job = await stack.submit(c.auth, "echo", {});
    const pending = get(c, job.jobId, "", { prefer: "wait=60" });
    await expect.poll(waiters).toBe(1);
    await succeed(job, "done");
    const ended = await pending;
    expect(ended.headers.get("preference-applied")).toBe("wait=60");
    expect(await ended.json()).toMatchObject({ status: "succeeded", result: "done" });
  });

  it("lets ?wait= win over Prefer: wait", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "echo", {});
    const res = await get(c, jobId, "?wait=0", { prefer: "wait=60" });
    expect(res.status).toBe(200);
    expect(res.headers.get("preference-applied")).toBeNull();
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toMatchObject({ status: "queued" });
  });

  it("answers a bad wait with 400 invalid_wait, storing and waiting for nothing", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "echo", {});
    const count = async (name: string) => (await stack.nats.jsm.streams.info(name)).state.messages;
    const before = [await count(JOBS_STREAM), await count(RESULTS_STREAM)];
    for (const bad of ["61", "-1", "soon", "", "1e9", "NaN", "5&wait=6"]) {
      const res = await get(c, jobId, `?wait=${bad}`);
      expect(res.status, bad).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code, bad).toBe("invalid_wait");
      expect(body.error.message).toMatch(/0 to 60/);
    }
    expect([await count(JOBS_STREAM), await count(RESULTS_STREAM)]).toEqual(before);
    expect(await waiters()).toBe(0);
  });

  it("is 404 at once for another client's job and for an unknown one", async () => {
    const [owner, other] = [await stack.client(), await stack.client()];
    const { jobId } = await stack.submit(owner.auth, "echo", {});
    const res = await get(other, jobId, "?wait=60");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("job_not_found");
    expect((await get(owner, "01ARZ3NDEKTSV4RRFFQ69G5FAV", "?wait=60")).status).toBe(404);
    expect(await waiters()).toBe(0);
  });

  it("frees the wait of a client that disconnects", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "echo", {});
    const req = http.get(`${stack.url}/v1/jobs/${jobId}?wait=60`, { headers: c.auth });
    const closed = new Promise<void>((resolve) => req.on("close", resolve));
    req.on("error", () => undefined); // the abort below
    await expect.poll(waiters).toBe(1);
    req.destroy();
    await closed;
    await expect.poll(waiters).toBe(0);
  });

  it("answers many clients waiting on one job, all with its end", async () => {
    const c = await stack.client();
    const job = await stack.submit(c.auth, "echo", {});
    const n = 200;
    const pending = Array.from({ length: n }, () => get(c, job.jobId, "?wait=60"));
    await expect.poll(waiters, { timeout: 10_000 }).toBe(n);
    await succeed(job, "for everyone");
    const answers = await Promise.all(pending);
    const states = (await Promise.all(answers.map((r) => r.json()))) as State[];
    expect(answers.map((r) => r.status)).toEqual(Array(n).fill(200));
    expect(new Set(states.map((s) => `${s.status} ${JSON.stringify(s.result)}`))).toEqual(
      new Set(['succeeded "for everyone"']),
    );
    expect(await waiters()).toBe(0);
  });
});

describe("waits cut short", () => {
  const count = async (own: Stack) =>
    Number(/^herald_job_waiters\{[^}]*\} (\d+)$/m.exec(await (await own.http("/metrics")).text())?.[1]);

  it("a stopping api answers its waits at once with the state as it is", async () => {
    const own = await startStack();
    try {
      const c = await own.client();
      const { jobId } = await own.submit(c.auth, "echo", {});
      const waiting = own.http(`/v1/jobs/${jobId}?wait=60`, { headers: c.auth });
      await expect.poll(() => count(own)).toBe(1);
      const stopping = drainAndClose(own.app);
      const res = await waiting;
      expect(res.status).toBe(200);
      expect(res.headers.get("retry-after")).toBe("1");
      expect(await res.json()).toMatchObject({ jobId, status: "queued" });
      await stopping;
    } finally {
      await own.close();
    }
  });

  it("NATS going away answers them 503 nats_unavailable with Retry-After", async () => {
    const own = await startStack();
    try {
      const c = await own.client();
      const { jobId } = await own.submit(c.auth, "echo", {});
      const waiting = own.http(`/v1/jobs/${jobId}?wait=60`, { headers: c.auth });
      await expect.poll(() => count(own)).toBe(1);
      await own.server.stop();
      const res = await waiting;
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("2");
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("nats_unavailable");
      expect(await count(own)).toBe(0);
    } finally {
      await own.close();
    }
  });
});
