import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack, type TestNotifier } from "./helpers/stack.ts";

// Limits and web hygiene against a running stack with small, explicit limits.
const logLines: string[] = [];
let stack: Stack;
let notifier: TestNotifier;
beforeAll(async () => {
  stack = await startStack({
    env: {
      RATE_LIMIT_JOBS: "5",
      RATE_LIMIT_CLIENTS: "4",
      SSE_MAX_STREAMS_PER_CLIENT: "2",
      JOBS_MAX_QUEUED_PER_CLIENT: "3",
      CORS_ORIGINS: "https://app.example.com",
      TRUST_PROXY: "true",
    },
    logDestination: { write: (line) => void logLines.push(line) },
  });
  notifier = await stack.addNotifier();
});
afterAll(async () => stack?.close());

const json = { "content-type": "application/json" };
let nextAddress = 1;
/** A new client, from an address of its own (TRUST_PROXY), so that RATE_LIMIT_CLIENTS stays out of the way. */
async function newClient() {
  const res = await stack.http("/v1/clients", {
    method: "POST",
    headers: { "x-forwarded-for": `192.0.2.${nextAddress++}` },
  });
  expect(res.status).toBe(201);
  const { clientId, token } = (await res.json()) as { clientId: string; token: string };
  return { clientId, token, auth: { authorization: `Bearer ${token}` } };
}
const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;
const submit = (headers: Record<string, string>, type = "echo", payload: unknown = {}) =>
  stack.http("/v1/jobs", { method: "POST", headers: { ...json, ...headers }, body: JSON.stringify({ type, payload }) });

describe("rate limits", () => {
  it("limits client creation per address: 429 rate_limited with Retry-After", async () => {
    const headers = { "x-forwarded-for": "203.0.113.7" }; // TRUST_PROXY: the proxy's word for the client address
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await stack.http("/v1/clients", { method: "POST", headers })).status);
    expect(statuses).toEqual([201, 201, 201, 201, 429, 429]);
    const res = await stack.http("/v1/clients", { method: "POST", headers });
    expect(await errorCode(res)).toBe("rate_limited");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another address is not affected.
    expect(
      (await stack.http("/v1/clients", { method: "POST", headers: { "x-forwarded-for": "203.0.113.8" } })).status,
    ).toBe(201);
  });

  it("limits job submission per client, not per address, and stores nothing for a refused one", async () => {
    const ip = { "x-forwarded-for": "198.51.100.1" };
    const [a, b] = [await newClient(), await newClient()];
    // Five types, so that the queued-jobs bound (3 per type here) is not what stops them.
    const jobs: [string, unknown][] = [
      ["echo", 1],
      ["sleep", { ms: 1 }],
      ["sha256", { data: "x" }],
      ["flaky", { failTimes: 0 }],
      ["fail", {}],
    ];
    const statuses: number[] = [];
    for (const [type, payload] of jobs) statuses.push((await submit({ ...a.auth, ...ip }, type, payload)).status);
    expect(statuses).toEqual([202, 202, 202, 202, 202]);
    const before = (await stack.nats.jsm.streams.info("RESULTS")).state.messages;
    const refused = await submit({ ...a.auth, ...ip });
    expect(refused.status).toBe(429);
    expect(await errorCode(refused.clone())).toBe("rate_limited");
    expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
    expect((await stack.nats.jsm.streams.info("RESULTS")).state.messages).toBe(before);
    // Same address, another client: its own budget.
    expect((await submit({ ...b.auth, ...ip })).status).toBe(202);
  });
});

describe("bounds", () => {
  it("bounds a client's queued jobs of one type (JetStream refuses the fourth): 429 too_many_queued_jobs, the job ended failed", async () => {
    const c = await newClient();
    for (let i = 0; i < 3; i++) expect((await submit(c.auth, "sleep", { ms: 10 })).status).toBe(202);
    const res = await submit(c.auth, "sleep", { ms: 10 });
    expect(res.status).toBe(429);
    expect(await errorCode(res)).toBe("too_many_queued_jobs");
    // Other types and other clients still go through.
    expect((await submit(c.auth, "echo", 1)).status).toBe(202);
    const other = await newClient();
    expect((await submit(other.auth, "sleep", { ms: 10 })).status).toBe(202);
  });

  it("caps a client's concurrent event streams on a notifier: 429 too_many_streams", async () => {
    const c = await newClient();
    const open = async () => {
      const ctl = new AbortController();
      const res = await fetch(`${notifier.url}/v1/events`, {
        headers: { ...c.auth, accept: "text/event-stream" },
        signal: ctl.signal,
      });
      return { res, ctl };
    };
    const first = await open();
    const second = await open();
    expect([first.res.status, second.res.status]).toEqual([200, 200]);
    const third = await open();
    expect(third.res.status).toBe(429);
    expect(await errorCode(third.res)).toBe("too_many_streams");
    first.ctl.abort();
    await expect.poll(() => notifier.hub.streamsOf(c.clientId), { timeout: 5_000 }).toBe(1);
    const again = await open();
    expect(again.res.status).toBe(200);
    second.ctl.abort();
    again.ctl.abort();
  });

  it("answers a body over the limit with 413", async () => {
    const c = await newClient();
    const res = await submit(c.auth, "echo", "x".repeat(1_100_000));
    expect(res.status).toBe(413);
    expect(await errorCode(res)).toBe("payload_too_large");
  });
});

describe("web hygiene", () => {
  it("refuses a cookie-authenticated write from another site (CSRF), and allows it from herald's own origin", async () => {
    const c = await newClient();
    const cookie = { cookie: `herald_token=${c.token}` };
    const evil = await submit({ ...cookie, origin: "https://evil.example" });
    expect(evil.status).toBe(403);
    expect(await errorCode(evil)).toBe("csrf_rejected");
    expect((await submit({ ...cookie, "sec-fetch-site": "cross-site" })).status).toBe(403);
    const { port } = new URL(stack.url);
    expect((await submit({ ...cookie, origin: `http://127.0.0.1:${port}` })).status).toBe(202);
    expect((await submit({ ...cookie, origin: "https://app.example.com" })).status).toBe(202); // on the allow-list
    // A bearer token is sent on purpose, never by the browser on its own: no CSRF to fear.
    expect((await submit({ ...c.auth, origin: "https://evil.example" })).status).toBe(202);
    const { jobId } = (await (await submit(c.auth)).json()) as { jobId: string };
    const cancel = await stack.http(`/v1/jobs/${jobId}`, {
      method: "DELETE",
      headers: { ...cookie, origin: "https://evil.example" },
    });
    expect(cancel.status).toBe(403);
  });

  it("answers CORS only for allowed origins", async () => {
    const allowed = await stack.http("/v1/jobs", {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example.com",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type",
      },
    });
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
    expect(allowed.headers.get("access-control-allow-credentials")).toBe("true");
    const denied = await stack.http("/v1/clients", { method: "POST", headers: { origin: "https://evil.example" } });
    expect(denied.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("sends security headers", async () => {
    const res = await stack.http("/v1/clients", { method: "POST" });
    expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    expect(res.headers.get("strict-transport-security")).toMatch(/max-age=/);
    // An event stream is not a document: nosniff only (every header is kept in memory as long as
    // the stream lasts).
    const c = await stack.client();
    const open = new AbortController();
    const stream = await fetch(`${notifier.url}/v1/events`, {
      headers: { ...c.auth, accept: "text/event-stream" },
      signal: open.signal,
    });
    expect(stream.headers.get("content-type")).toContain("text/event-stream");
    expect(stream.headers.get("x-content-type-options")).toBe("nosniff");
    expect(stream.headers.get("content-security-policy")).toBeNull();
    open.abort();
  });

  it("marks the cookie Secure when the request came over HTTPS through a trusted proxy", async () => {
    const res = await stack.http("/v1/clients", {
      method: "POST",
      headers: { "x-forwarded-proto": "https", "x-forwarded-for": "192.0.2.9" },
    });
    expect(res.headers.get("set-cookie")).toMatch(/; Secure/i);
  });

  it("keeps tokens out of every log line", async () => {
    const c = await newClient();
    logLines.length = 0;
    await stack.http(`/v1/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV?access_token=${c.token}`);
    await stack.http(`/v1/jobs/not-a-job?access_token=${c.token}&x=1`);
    await stack.http("/v1/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV", { headers: c.auth });
    await stack.http("/v1/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV", { headers: { cookie: `herald_token=${c.token}` } });
    const ctl = new AbortController();
    await fetch(`${notifier.url}/v1/events?access_token=${c.token}`, {
      headers: { accept: "text/event-stream" },
      signal: ctl.signal,
    });
    ctl.abort();
    await new Promise((r) => setTimeout(r, 100));
    expect(logLines.length).toBeGreaterThan(5);
    const all = logLines.join("\n");
    expect(all).not.toContain(c.token);
    expect(all).not.toContain(c.token.split(".")[2]!); // not even the signature
    expect(all).toContain("access_token=[REDACTED]");
  });
});
