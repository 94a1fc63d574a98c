import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RESULTS_STREAM, SCHEDULED_STREAM } from "../../libs/contracts/mod.ts";
import { startStack, type Stack } from "../../test/helpers/stack.ts";

// POST /v1/jobs with runAt or delay, without workers: what the API stores and refuses.

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ workers: 0, env: { JOB_MAX_DELAY: "1h" } });
});
afterAll(async () => {
  await stack?.close();
});

const post = (auth: { authorization: string }, body: unknown, headers: Record<string, string> = {}) =>
  stack.http("/v1/jobs", {
    method: "POST",
    headers: { ...auth, "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

/** What the streams hold: a refused submit must change neither. */
async function stored() {
  const [results, scheduled] = await Promise.all([
    stack.nats.jsm.streams.info(RESULTS_STREAM),
    stack.nats.jsm.streams.info(SCHEDULED_STREAM),
  ]);
  return { results: results.state.last_seq, scheduled: scheduled.state.messages };
}

describe("POST /v1/jobs with runAt or delay", () => {
  it.each([
    [{ runAt: "2026-12-01T09:00:00Z", delay: "5s" }, "run_at_and_delay"],
    [{ runAt: "next tuesday" }, "invalid_run_at"],
    [{ runAt: "2030-01-01T09:00:00" }, "invalid_run_at"],
    [{ runAt: new Date(Date.now() - 60_000).toISOString() }, "run_at_in_past"],
    [{ runAt: new Date(Date.now() + 2 * 3_600_000).toISOString() }, "schedule_too_far"],
    [{ delay: "soon" }, "invalid_delay"],
    [{ delay: -1000 }, "invalid_delay"],
    [{ delay: "61m" }, "schedule_too_far"],
  ])("%j: 400 %s, and nothing is stored", async (schedule, code) => {
    const c = await stack.client();
    const before = await stored();
    const res = await post(c.auth, { type: "echo", payload: 1, ...schedule });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    expect(await stored()).toEqual(before);
  });

  it("stores the job at once: 202 scheduled, its queued event with runAt, its message in SCHEDULED (not JOBS)", async () => {
    const c = await stack.client();
    const before = await stored();
    const res = await post(c.auth, { type: "echo", payload: 1, delay: "10m" });
    expect(res.status).toBe(202);
    const job = (await res.json()) as { jobId: string; status: string; eventId: number };
    expect(job.status).toBe("scheduled");
    const after = await stored();
    expect(after).toEqual({ results: before.results + 1, scheduled: before.scheduled + 1 });
    expect((await stack.nats.jsm.streams.info("JOBS")).state.messages).toBe(0);
    const [queued] = await stack.events(c.clientId, job.jobId);
    expect(queued!.seq).toBe(job.eventId);
    const state = (await (await stack.http(`/v1/jobs/${job.jobId}`, { headers: c.auth })).json()) as {
      status: string;
      runAt: string;
      event: string;
    };
    expect(state).toMatchObject({ status: "scheduled", event: "queued", runAt: queued!.event.runAt });
  });

  it("an Idempotency-Key repeat answers the same scheduled job and schedules it once", async () => {
    const c = await stack.client();
    const before = await stored();
    const body = { type: "echo", payload: 2, delay: "10m" };
    const [a, b] = await Promise.all([
      post(c.auth, body, { "idempotency-key": "later-1" }),
      post(c.auth, body, { "idempotency-key": "later-1" }),
    ]);
    const [ja, jb] = (await Promise.all([a.json(), b.json()])) as { jobId: string }[];
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(jb!.jobId).toBe(ja!.jobId);
    expect((await stored()).scheduled).toBe(before.scheduled + 1);
  });

  it("the OpenAPI document shows runAt and delay in the submit body", async () => {
    const doc = (await (await stack.http("/docs/json")).json()) as {
      paths: Record<
        string,
        { post?: { requestBody: { content: Record<string, { schema: { properties: object } }> } } }
      >;
    };
    const props = doc.paths["/v1/jobs"]!.post!.requestBody.content["application/json"]!.schema.properties;
    expect(Object.keys(props)).toEqual(expect.arrayContaining(["type", "payload", "runAt", "delay"]));
  });
});
