import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT } from "jose";
import { JOBS_STREAM, RESULTS_STREAM } from "../../libs/contracts/mod.ts";
import { createTokens } from "../../libs/auth/mod.ts";
import { startStack, TEST_SECRET, type Stack } from "../../test/helpers/stack.ts";

// The HTTP API against a real nats-server, over real HTTP, with no worker running: jobs stay
// queued, so what the API itself stores can be checked exactly.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => stack?.close());

const json = { "content-type": "application/json" };

async function streamMessages(name: string): Promise<number> {
  return (await stack.nats.jsm.streams.info(name)).state.messages;
}

describe("POST /v1/clients", () => {
  it("creates an identity: 201, a token for it, and an HttpOnly SameSite=Lax cookie", async () => {
    const res = await stack.http("/v1/clients", { method: "POST" });
    expect(res.status).toBe(201);
    const body = (await res.json()) as { clientId: string; token: string; expiresAt: string };
    expect(body.clientId).toMatch(/^[0-9A-Z]{26}$/);
    expect(new Date(body.expiresAt).getTime()).toBeGreaterThan(Date.now() + 86_400_000);
    expect((await stack.tokens.verify(body.token)).clientId).toBe(body.clientId);
    const cookie = res.headers.get("set-cookie")!;
    expect(cookie).toContain(`herald_token=${body.token}`);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).not.toMatch(/Secure/i); // plain HTTP here
  });
});

describe("POST /v1/jobs", () => {
  it("stores the queued event, then the job, and answers 202 with Location, Retry-After and the event id", async () => {
    const c = await stack.client();
    const jobsBefore = await streamMessages(JOBS_STREAM);
    const res = await stack.http("/v1/jobs", {
      method: "POST",
      headers: { ...c.auth, ...json },
      body: JSON.stringify({ type: "sleep", payload: { ms: 10, steps: 2 } }),
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as Record<string, unknown>;
    const jobId = body.jobId as string;
    expect(body).toEqual({
      jobId,
      status: "queued",
      statusUrl: `/v1/jobs/${jobId}`,
      eventsUrl: `/v1/jobs/${jobId}/events`,
      eventId: expect.any(Number),
    });
    expect(res.headers.get("location")).toBe(`/v1/jobs/${jobId}`);
    expect(res.headers.get("retry-after")).toBe("1");

    const queued = await stack.nats.jsm.streams.getMessage(RESULTS_STREAM, { seq: body.eventId as number });
    expect(queued?.subject).toBe(`results.${c.clientId}.${jobId}`);
    expect(queued?.json()).toMatchObject({ jobId, clientId: c.clientId, type: "sleep", event: "queued", attempt: 0 });
    expect(await streamMessages(JOBS_STREAM)).toBe(jobsBefore + 1);
    const job = await stack.nats.jsm.streams.getMessage(JOBS_STREAM, { last_by_subj: `jobs.sleep.${c.clientId}` });
    expect(job?.json()).toMatchObject({ jobId, clientId: c.clientId, type: "sleep", payload: { ms: 10, steps: 2 } });
  });

  it("takes the token from the cookie and from ?access_token= too", async () => {
    const c = await stack.client();
    const viaCookie = await stack.http("/v1/jobs", {
      method: "POST",
      headers: { cookie: `herald_token=${c.token}`, ...json },
      body: JSON.stringify({ type: "echo", payload: 1 }),
    });
    expect(viaCookie.status).toBe(202);
    const viaQuery = await stack.http(`/v1/jobs?access_token=${c.token}`, {
      method: "POST",
      headers: json,
      body: JSON.stringify({ type: "echo", payload: 2 }),
    });
    expect(viaQuery.status).toBe(202);
    const { jobId } = (await viaQuery.json()) as { jobId: string };
    // The job belongs to the token's client, whatever else the request says.
    expect((await stack.http(`/v1/jobs/${jobId}`, { headers: c.auth })).status).toBe(200);
  });

  it("rejects requests without a valid token with 401 and stores nothing", async () => {
    const before = [await streamMessages(JOBS_STREAM), await streamMessages(RESULTS_STREAM)];
    const other = createTokens(["another-secret-that-is-at-least-32-bytes"], 60_000);
    const expired = await createTokens([TEST_SECRET], 60_000).mint("someone", -120_000);
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString("base64url")}.${Buffer.from(
      JSON.stringify({ sub: "someone", exp: Math.floor(Date.now() / 1000) + 600 }),
    ).toString("base64url")}.`;
    const badSub = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("a.b.>")
      .setExpirationTime("10m")
      .sign(new TextEncoder().encode(TEST_SECRET));
    const cases: [Record<string, string>, string][] = [
      [{}, "unauthorized"],
      [{ authorization: "Basic abc" }, "invalid_token"],
      [{ authorization: "Bearer not-a-jwt" }, "invalid_token"],
      [{ authorization: `Bearer ${(await other.mint("someone")).token}` }, "invalid_token"],
      [{ authorization: `Bearer ${expired.token}` }, "token_expired"],
      [{ authorization: `Bearer ${unsigned}` }, "invalid_token"],
      [{ authorization: `Bearer ${badSub}` }, "invalid_token"],
    ];
    for (const [headers, code] of cases) {
      const res = await stack.http("/v1/jobs", {
        method: "POST",
        headers: { ...headers, ...json },
        body: JSON.stringify({ type: "echo", payload: {} }),
      });
      expect(res.status, JSON.stringify(headers)).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    }
    expect([await streamMessages(JOBS_STREAM), await streamMessages(RESULTS_STREAM)]).toEqual(before);
  });

  it("answers bad input with a 400 JSON error and stores nothing", async () => {
    const c = await stack.client();
    const before = [await streamMessages(JOBS_STREAM), await streamMessages(RESULTS_STREAM)];
    const cases: [string | undefined, Record<string, string>, string][] = [
      [JSON.stringify({ type: "nope", payload: {} }), json, "unknown_job_type"],
      [JSON.stringify({ type: "sleep", payload: { ms: "soon" } }), json, "invalid_payload"],
      [JSON.stringify({ type: "sleep", payload: { ms: 10, extra: 1 } }), json, "invalid_payload"],
      [JSON.stringify({ type: "sha256" }), json, "invalid_payload"],
      [JSON.stringify({ payload: {} }), json, "invalid_input"],
      [JSON.stringify({ type: "jobs.>", payload: {} }), json, "unknown_job_type"],
      ["{not json", json, "invalid_json"],
      ["", json, "invalid_json"],
    ];
    for (const [body, headers, code] of cases) {
      const res = await stack.http("/v1/jobs", { method: "POST", headers: { ...c.auth, ...headers }, body });
      expect(res.status, body).toBe(400);
      const err = (await res.json()) as { error: { code: string; message: string } };
      expect(err.error.code, body).toBe(code);
      expect(err.error.message.length).toBeGreaterThan(0);
    }
    const wrongType = await stack.http("/v1/jobs", {
      method: "POST",
      headers: { ...c.auth, "content-type": "text/plain" },
      body: "type=echo",
    });
    expect(wrongType.status).toBe(415);
    expect([await streamMessages(JOBS_STREAM), await streamMessages(RESULTS_STREAM)]).toEqual(before);
  });

  it("answers a job larger than the queue's message limit with 413", async () => {
    const c = await stack.client();
    const res = await stack.http("/v1/jobs", {
      method: "POST",
      headers: { ...c.auth, ...json },
      // Below the 1 MiB body limit, but JSON-escaping every character makes the job message larger.
      body: JSON.stringify({ type: "echo", payload: "\u0001".repeat(200_000) }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
  });
});

describe("Idempotency-Key", () => {
  const submit = (auth: Record<string, string>, key: string, payload: unknown = { v: 1 }) =>
    stack.http("/v1/jobs", {
      method: "POST",
      headers: { ...auth, ...json, "idempotency-key": key },
      body: JSON.stringify({ type: "echo", payload }),
    });

  it("returns the same job for the same key from the same client, and queues it once", async () => {
    const c = await stack.client();
    const jobsBefore = await streamMessages(JOBS_STREAM);
    const first = await submit(c.auth, "order-42");
    const second = await submit(c.auth, "order-42");
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    const [a, b] = [await first.json(), await second.json()];
    expect(b).toEqual(a);
    expect(first.headers.get("idempotent-replayed")).toBe("false");
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(await streamMessages(JOBS_STREAM)).toBe(jobsBefore + 1);
  });

  it("never queues twice under concurrent identical requests", async () => {
    const c = await stack.client();
    const jobsBefore = await streamMessages(JOBS_STREAM);
    const responses = await Promise.all(Array.from({ length: 25 }, () => submit(c.auth, "concurrent-key")));
    const bodies = await Promise.all(responses.map((r) => r.json() as Promise<{ jobId: string; eventId: number }>));
    expect(responses.map((r) => r.status)).toEqual(Array(25).fill(202));
    expect(new Set(bodies.map((b) => b.jobId)).size).toBe(1);
    expect(new Set(bodies.map((b) => b.eventId)).size).toBe(1);
    expect(await streamMessages(JOBS_STREAM)).toBe(jobsBefore + 1);
  });

  it("keeps keys apart per client, and refuses the same key with a different request (422)", async () => {
    const [c1, c2] = [await stack.client(), await stack.client()];
    const a = (await (await submit(c1.auth, "shared")).json()) as { jobId: string };
    const b = (await (await submit(c2.auth, "shared")).json()) as { jobId: string };
    expect(a.jobId).not.toBe(b.jobId);
    const changed = await submit(c1.auth, "shared", { v: 2 });
    expect(changed.status).toBe(422);
    expect(((await changed.json()) as { error: { code: string } }).error.code).toBe("idempotency_key_reused");
  });

  it("rejects an unusable key with 400", async () => {
    const c = await stack.client();
    expect((await submit(c.auth, "x".repeat(300))).status).toBe(400);
  });
});

describe("GET /v1/jobs/:id", () => {
  it("answers the latest state with Retry-After while the job has not ended", async () => {
    const c = await stack.client();
    const { jobId, eventId } = await stack.submit(c.auth, "echo", { hi: 1 });
    const res = await stack.http(`/v1/jobs/${jobId}`, { headers: c.auth });
    expect(res.status).toBe(200);
    expect(res.headers.get("retry-after")).toBe("1");
    const state = (await res.json()) as Record<string, unknown>;
    expect(state).toMatchObject({
      jobId,
      type: "echo",
      status: "queued",
      attempt: 0,
      progress: null,
      result: null,
      error: null,
      finishedAt: null,
      runAt: null,
      eventId,
      statusUrl: `/v1/jobs/${jobId}`,
    });
    expect(Date.parse(state.createdAt as string)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("is 404 for unknown jobs and for other clients' jobs, 400 for a malformed id", async () => {
    const [owner, other] = [await stack.client(), await stack.client()];
    const { jobId } = await stack.submit(owner.auth, "echo", {});
    expect((await stack.http(`/v1/jobs/${jobId}`, { headers: other.auth })).status).toBe(404);
    expect((await stack.http(`/v1/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV`, { headers: owner.auth })).status).toBe(404);
    for (const bad of ["nope", "01ARZ3NDEKTSV4RRFFQ69G5FA*", "01ARZ3NDEKTSV4RRFFQ69G5F.>", "%20"]) {
      const res = await stack.http(`/v1/jobs/${bad}`, { headers: owner.auth });
      expect(res.status, bad).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_job_id");
    }
    expect((await stack.http(`/v1/jobs/${jobId}`)).status).toBe(401);
  });
});

describe("DELETE /v1/jobs/:id", () => {
  it("cancels a queued job (202, canceled state), then answers 409 because it has ended", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "sleep", { ms: 10 });
    const res = await stack.http(`/v1/jobs/${jobId}`, { method: "DELETE", headers: c.auth });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ jobId, status: "canceled", finishedAt: expect.any(String) });
    const state = (await (await stack.http(`/v1/jobs/${jobId}`, { headers: c.auth })).json()) as { status: string };
    expect(state.status).toBe("canceled");
    const again = await stack.http(`/v1/jobs/${jobId}`, { method: "DELETE", headers: c.auth });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe("job_ended");
  });

  it("is 404 for another client's job and leaves it untouched", async () => {
    const [owner, other] = [await stack.client(), await stack.client()];
    const { jobId } = await stack.submit(owner.auth, "sleep", { ms: 10 });
    expect((await stack.http(`/v1/jobs/${jobId}`, { method: "DELETE", headers: other.auth })).status).toBe(404);
    const state = (await (await stack.http(`/v1/jobs/${jobId}`, { headers: owner.auth })).json()) as { status: string };
    expect(state.status).toBe("queued");
  });
});

describe("errors", () => {
  it("answers unknown routes and methods with a JSON 404", async () => {
    for (const [method, path] of [
      ["GET", "/nope"],
      ["PUT", "/v1/jobs"],
    ] as const) {
      const res = await stack.http(path, { method });
      expect(res.status).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
    }
  });
});

describe("a full queue", () => {
  it("answers 503 queue_full with Retry-After, and ends the refused job with a `failed` event", async () => {
    const c = await stack.client();
    const jobs = await stack.nats.jsm.streams.info(JOBS_STREAM);
    // Bound the queue at what it holds now plus one (the definition's bound is 100,000).
    await stack.nats.jsm.streams.update(JOBS_STREAM, { ...jobs.config, max_msgs: jobs.state.messages + 1 });
    try {
      await stack.submit(c.auth, "echo", "fits");
      const resultsBefore = (await stack.nats.jsm.streams.info(RESULTS_STREAM)).state.last_seq;
      const res = await stack.http("/v1/jobs", {
        method: "POST",
        headers: { ...c.auth, ...json },
        body: JSON.stringify({ type: "echo", payload: "does not fit" }),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("5");
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("queue_full");
      // Its client saw it queued, so it also sees it end: queued, then failed (queue_full).
      const stored = [];
      for (let seq = resultsBefore + 1; ; seq++) {
        const m = await stack.nats.jsm.streams.getMessage(RESULTS_STREAM, { seq }).catch(() => null);
        if (!m) break;
        stored.push(m.json<{ event: string; error: { code: string } | null }>());
      }
      expect(stored.map((e) => e.event)).toEqual(["queued", "failed"]);
      expect(stored[1]!.error!.code).toBe("queue_full");
    } finally {
      await stack.nats.jsm.streams.update(JOBS_STREAM, jobs.config);
    }
  });
});
