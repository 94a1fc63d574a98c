import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JOBS_STREAM, RESULTS_STREAM, type JobMessage } from "../../libs/contracts/mod.ts";
import { defineJob, Type } from "../../libs/jobs/mod.ts";
import { startStack, type Stack } from "../../test/helpers/stack.ts";

// A job's own time limit (`timeout` in the POST body) against a real nats-server, with no worker:
// what the API stores, or refuses to, can be checked exactly.
const limited = defineJob({ name: "limited", timeout: "10s", schema: Type.Unknown(), run: async () => null });

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ jobTypes: [limited] });
});
afterAll(async () => stack?.close());

const json = { "content-type": "application/json" };
const stored = async () =>
  Promise.all([JOBS_STREAM, RESULTS_STREAM].map(async (s) => (await stack.nats.jsm.streams.info(s)).state.messages));

function post(auth: Record<string, string>, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return stack.http("/v1/jobs", {
    method: "POST",
    headers: { ...auth, ...json, ...headers },
    body: JSON.stringify(body),
  });
}

/** The JOBS message of the job just queued (the newest in JOBS: no worker takes it). */
async function lastJobMessage(): Promise<JobMessage> {
  const info = await stack.nats.jsm.streams.info(JOBS_STREAM);
  return (await stack.nats.jsm.streams.getMessage(JOBS_STREAM, { seq: info.state.last_seq }))!.json<JobMessage>();
}

describe("POST /v1/jobs timeout", () => {
  it("carries a job's own limit, in milliseconds, in its JOBS message; none without one", async () => {
    const c = await stack.client();
    for (const [timeout, ms] of [
      ["5s", 5_000],
      ["250ms", 250],
      [1_500, 1_500],
      ["10s", 10_000], // the type's own limit: allowed
    ] as const) {
      const res = await post(c.auth, { type: "limited", payload: {}, timeout });
      expect(res.status, String(timeout)).toBe(202);
      const { jobId } = (await res.json()) as { jobId: string };
      expect(await lastJobMessage()).toMatchObject({ jobId, timeoutMs: ms });
    }
    // A type without a limit takes any limit up to 24 days.
    expect((await post(c.auth, { type: "echo", payload: 1, timeout: "24d" })).status).toBe(202);
    expect((await lastJobMessage()).timeoutMs).toBe(24 * 86_400_000);
    expect((await post(c.auth, { type: "echo", payload: 1 })).status).toBe(202);
    expect("timeoutMs" in (await lastJobMessage())).toBe(false);
  });

  it("answers a timeout above the type's limit, not a duration, or not above 0 with 400 invalid_timeout, and stores nothing", async () => {
    const c = await stack.client();
    const before = await stored();
    const cases: [string, unknown][] = [
      ["limited", "11s"],
      ["limited", 10_001],
      ["limited", "1h"],
      ["echo", "25d"],
      ["echo", "soon"],
      ["echo", "-5s"],
      ["echo", "5 minutes"],
      ["echo", ""],
      ["echo", 0],
      ["echo", "0s"],
      ["echo", -1],
      ["echo", true],
      ["echo", `${"1".repeat(80)}s`],
    ];
    for (const [type, timeout] of cases) {
      const res = await post(c.auth, { type, payload: {}, timeout });
      expect(res.status, JSON.stringify(timeout)).toBe(400);
      const { error } = (await res.json()) as { error: { code: string; message: string } };
      expect(error.code, JSON.stringify(timeout)).toBe("invalid_timeout");
      expect(error.message).toContain("timeout");
    }
    const above = await post(c.auth, { type: "limited", payload: {}, timeout: "1m" });
    expect(((await above.json()) as { error: { message: string } }).error.message).toMatch(
      /10000 ms limit of job type limited/,
    );
    // Not a string or a number at all: the schema refuses it.
    expect((await post(c.auth, { type: "echo", payload: {}, timeout: { s: 5 } })).status).toBe(400);
    expect(await stored()).toEqual(before);
  });

  it("counts the timeout in the Idempotency-Key's request: the same limit however written replays, another is 422", async () => {
    const c = await stack.client();
    const first = await post(
      c.auth,
      { type: "limited", payload: { v: 1 }, timeout: "2s" },
      { "idempotency-key": "t-1" },
    );
    expect(first.status).toBe(202);
    const same = await post(
      c.auth,
      { type: "limited", payload: { v: 1 }, timeout: 2_000 },
      { "idempotency-key": "t-1" },
    );
    expect(same.status).toBe(202);
    expect(same.headers.get("idempotent-replayed")).toBe("true");
    expect(((await same.json()) as { jobId: string }).jobId).toBe(((await first.json()) as { jobId: string }).jobId);
    const other = await post(
      c.auth,
      { type: "limited", payload: { v: 1 }, timeout: "3s" },
      { "idempotency-key": "t-1" },
    );
    expect(other.status).toBe(422);
    const none = await post(c.auth, { type: "limited", payload: { v: 1 } }, { "idempotency-key": "t-1" });
    expect(none.status).toBe(422);
  });
});
