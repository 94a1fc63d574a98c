import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT } from "jose";
import { createTokens } from "../libs/auth/mod.ts";
import { startStack, TEST_SECRET, type Stack, type TestNotifier } from "./helpers/stack.ts";

// Every way one client might reach another's jobs or events, against a running stack. Each must
// end in 401 or 404 — never data, and never a sign that the job exists.
let stack: Stack;
let notifier: TestNotifier;
let victim: Awaited<ReturnType<Stack["client"]>>;
let attacker: Awaited<ReturnType<Stack["client"]>>;
let victimJob: string;

beforeAll(async () => {
  stack = await startStack({ workers: 1 });
  notifier = await stack.addNotifier();
  victim = await stack.client();
  attacker = await stack.client();
  victimJob = (await stack.submit(victim.auth, "sleep", { ms: 30_000 })).jobId;
});
afterAll(async () => stack?.close());

const sse = { accept: "text/event-stream" };
const sign = (payload: Record<string, unknown>, secret = TEST_SECRET, alg = "HS256") =>
  new SignJWT(payload).setProtectedHeader({ alg }).sign(new TextEncoder().encode(secret));
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

/** Every route that exposes a job or an event, as one attacker request with the given credentials. */
function routes(jobId: string, headers: Record<string, string>, query = "") {
  const q = query ? `?${query}` : "";
  return [
    () => stack.http(`/v1/jobs/${jobId}${q}`, { headers }),
    () => stack.http(`/v1/jobs/${jobId}${q}`, { method: "DELETE", headers }),
    () => fetch(`${notifier.url}/v1/jobs/${jobId}/events${q}`, { headers: { ...sse, ...headers } }),
  ];
}

/** What an attacker sees on /v1/events within a short window: must hold none of the victim's events. */
async function eventsSeen(headers: Record<string, string>, query = ""): Promise<{ status: number; text: string }> {
  const ctl = new AbortController();
  const res = await fetch(`${notifier.url}/v1/events?lastEventId=earliest${query ? `&${query}` : ""}`, {
    headers: { ...sse, ...headers },
    signal: ctl.signal,
  });
  let text = "";
  if (res.status === 200) {
    const reader = res.body!.getReader();
    const timer = setTimeout(() => ctl.abort(), 300);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
    } catch {
      // aborted: what arrived in 300 ms is what the attacker could see
    }
    clearTimeout(timer);
  } else {
    text = await res.text();
  }
  return { status: res.status, text };
}

async function expectNoAccess(headers: Record<string, string>, expected: number[], query = ""): Promise<void> {
  for (const call of routes(victimJob, headers, query)) {
    const res = await call();
    expect(expected, `${res.url} → ${res.status}`).toContain(res.status);
    const body = await res.text();
    expect(body).not.toContain(victim.clientId);
  }
  const seen = await eventsSeen(headers, query);
  expect(seen.text).not.toContain(victimJob);
  expect(seen.text).not.toContain(victim.clientId);
}

describe("isolation", () => {
  it("the owner can read, stream and (last) cancel the job — the baseline the attacks are measured against", async () => {
    expect((await stack.http(`/v1/jobs/${victimJob}`, { headers: victim.auth })).status).toBe(200);
    const seen = await eventsSeen(victim.auth);
    expect(seen.text).toContain(victimJob);
  });

  it("another client's valid token: 404 on every job route, none of the victim's events on its stream", async () => {
    await expectNoAccess(attacker.auth, [404]);
  });

  it("guessed job ids: 404, the same answer as for a job that does not exist", async () => {
    const guesses = ["01ARZ3NDEKTSV4RRFFQ69G5FAV", `${victimJob.slice(0, 25)}0`, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"];
    for (const id of guesses) {
      expect((await stack.http(`/v1/jobs/${id}`, { headers: attacker.auth })).status).toBe(404);
    }
    const [theirs, missing] = [
      await (await stack.http(`/v1/jobs/${victimJob}`, { headers: attacker.auth })).json(),
      await (await stack.http(`/v1/jobs/${guesses[0]}`, { headers: attacker.auth })).json(),
    ];
    expect((theirs as { error: { code: string } }).error.code).toBe(
      (missing as { error: { code: string } }).error.code,
    );
  });

  it("forged tokens — wrong secret, alg none, expired, no exp, the victim's id as sub but unsigned: 401", async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged = [
      await sign({ sub: victim.clientId, exp: now + 600 }, "another-secret-of-at-least-32-bytes!!"),
      `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: victim.clientId, exp: now + 600 })}.`,
      `${b64({ alg: "HS256", typ: "JWT" })}.${b64({ sub: victim.clientId, exp: now + 600 })}.`,
      (await createTokens([TEST_SECRET], 60_000).mint(victim.clientId, -120_000)).token,
      await sign({ sub: victim.clientId }),
      // The attacker's own valid token, with the payload swapped for the victim's id.
      `${attacker.token.split(".")[0]}.${b64({ sub: victim.clientId, exp: now + 600 })}.${attacker.token.split(".")[2]}`,
    ];
    for (const token of forged) {
      await expectNoAccess({ authorization: `Bearer ${token}` }, [401]);
      await expectNoAccess({ cookie: `herald_token=${token}` }, [401]);
      await expectNoAccess({}, [401], `access_token=${encodeURIComponent(token)}`);
    }
  });

  it("subject injection: client ids with . * > or spaces in a signed token, and job ids with them in the path: 401/400, never a wildcard read", async () => {
    for (const sub of [`${victim.clientId}.>`, "*", ">", `${victim.clientId} x`, "a.b", "results.*"]) {
      const token = await sign({ sub, exp: Math.floor(Date.now() / 1000) + 600 });
      await expectNoAccess({ authorization: `Bearer ${token}` }, [401]);
    }
    for (const id of ["*", ">", "%2A", "%3E", `${victimJob}.x`, "a%20b", `${victimJob.slice(0, 20)}.*`]) {
      for (const call of routes(id, attacker.auth)) {
        const res = await call();
        expect([400, 404], `${res.url} → ${res.status}`).toContain(res.status);
        expect(await res.text()).not.toContain(victim.clientId);
      }
    }
  });

  it("another client's id in the query string or body changes nothing: the token decides", async () => {
    await expectNoAccess(attacker.auth, [404], `clientId=${victim.clientId}`);
    const res = await stack.http(`/v1/jobs?clientId=${victim.clientId}`, {
      method: "POST",
      headers: { ...attacker.auth, "content-type": "application/json" },
      body: JSON.stringify({ type: "echo", payload: {}, clientId: victim.clientId }),
    });
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };
    expect((await stack.http(`/v1/jobs/${jobId}`, { headers: attacker.auth })).status).toBe(200);
    expect((await stack.http(`/v1/jobs/${jobId}`, { headers: victim.auth })).status).toBe(404);
  });

  it("after all that, the victim's job is untouched and still running", async () => {
    const state = (await (await stack.http(`/v1/jobs/${victimJob}`, { headers: victim.auth })).json()) as {
      status: string;
    };
    expect(["queued", "running"]).toContain(state.status);
    expect((await stack.http(`/v1/jobs/${victimJob}`, { method: "DELETE", headers: victim.auth })).status).toBe(202);
  });
});
