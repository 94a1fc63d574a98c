import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { execFile, spawn } from "node:child_process";
import { eachLine, freePort } from "../../scripts/launcher/mod.ts";
import { promisify } from "node:util";
import { startStack, type Stack } from "../../test/helpers/stack.ts";
import { formatReport, readReport } from "../cli/commands/inspect.ts";
import { startWebhookReceiver, type Answer, type ReceivedWebhook } from "../../test/helpers/webhookReceiver.ts";

// Webhooks end to end against a real nats-server: the api stores the job, a worker runs it, the
// worker's dispatcher queues each delivery, its senders POST them to a real receiver on loopback
// (allow-listed), signed; the receiver checks every signature.

type Auth = { authorization: string };

const dlq = (...args: string[]) =>
  promisify(execFile)(process.execPath, ["--import", "tsx", "apps/dlq/main.ts", ...args], {
    env: { ...process.env, NATS_URL: stack.server.url },
  });

/** The answer the receiver gives, per test: set before the job is submitted. */
let answer: (r: ReceivedWebhook, nth: number) => Answer = () => 200;
const secrets = new Map<string, string[]>();

let stack: Stack;
let receiver: Awaited<ReturnType<typeof startWebhookReceiver>>;

beforeAll(async () => {
  receiver = await startWebhookReceiver({
    answer: (r, nth) => answer(r, nth),
    secrets: () => [...secrets.values()].flat(),
  });
  stack = await startStack({
    workers: 1,
    env: {
      WEBHOOK_ALLOW_HTTP: "true",
      WEBHOOK_ALLOW_HOSTS: "127.0.0.1",
      WEBHOOK_RETRY_BACKOFF: "100ms,100ms,100ms",
      WEBHOOK_TIMEOUT: "500ms",
    },
  });
});
afterAll(async () => {
  await stack?.close();
  await receiver?.close();
});

async function call(auth: Auth, method: string, path: string, body?: unknown) {
  const res = await stack.http(path, {
    method,
    headers: { ...auth, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
}

/** A client with a signing secret the receiver knows. */
async function clientWithSecret() {
  const c = await stack.client();
  const { status, body } = await call(c.auth, "POST", "/v1/clients/me/webhook-secret");
  expect(status).toBe(201);
  const secret = body!.secret as string;
  expect(secret).toMatch(/^whsec_/);
  secrets.set(c.clientId, [secret]);
  return { ...c, secret };
}

async function submit(auth: Auth, body: Record<string, unknown>) {
  const res = await call(auth, "POST", "/v1/jobs", body);
  if (res.status !== 202) throw new Error(`POST /v1/jobs: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as { jobId: string };
}

async function waitFor<T>(what: string, get: () => T | Promise<T>, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const webhookClients = async () =>
  (await stack.metrics.registry.getSingleMetric("herald_webhook_clients")!.get()).values[0]?.value;
const forJob = (jobId: string) => receiver.received.filter((r) => JSON.parse(r.body).jobId === jobId);
const deliveries = async (auth: Auth, jobId: string) =>
  ((await call(auth, "GET", `/v1/jobs/${jobId}/webhooks`)).body as { deliveries: Record<string, unknown>[] })
    .deliveries;

describe("webhooks", () => {
  it("a job's own webhook gets its terminal event once, signed (Standard Webhooks), the envelope as on SSE", async () => {
    answer = () => 200;
    const c = await clientWithSecret();
    const job = await submit(c.auth, { type: "echo", payload: { hi: 1 }, webhook: { url: `${receiver.url}/hook` } });
    const [got] = await waitFor("the delivery", () => (forJob(job.jobId).length ? forJob(job.jobId) : null));
    expect(got!.verified).toBe(true);
    expect(got!.event).toBe("job.succeeded");
    // The reference implementation agrees.
    const headers = {
      "webhook-id": got!.id,
      "webhook-timestamp": String(got!.timestamp),
      "webhook-signature": got!.signature,
    };
    expect(new Webhook(c.secret).verify(got!.body, headers)).toMatchObject({ jobId: job.jobId, event: "succeeded" });
    const events = await stack.events(c.clientId, job.jobId);
    const stored = events.find((e) => e.event.event === "succeeded")!;
    expect(JSON.parse(got!.body)).toEqual(stored.event);
    expect(got!.id).toBe(`msg_${job.jobId}_${stored.seq}_job`);
    await waitFor("the delivered state", async () => (await deliveries(c.auth, job.jobId))[0]?.state === "delivered");
    expect(await deliveries(c.auth, job.jobId)).toEqual([
      expect.objectContaining({ kind: "job", state: "delivered", attempts: 1, status: 200, event: "succeeded" }),
    ]);
    // Only the terminal event by default: the job's other events make no delivery at all.
    expect(forJob(job.jobId)).toHaveLength(1);
  });

  it("retries a 500 with backoff under one webhook-id, with increasing attempts, until a 200", async () => {
    answer = (_r, nth) => (nth <= 2 ? 500 : 200);
    const c = await clientWithSecret();
    const job = await submit(c.auth, { type: "echo", payload: 1, webhook: { url: `${receiver.url}/flaky` } });
    await waitFor("the third try", () => forJob(job.jobId).length >= 3);
    const tries = forJob(job.jobId);
    expect(new Set(tries.map((t) => t.id)).size).toBe(1);
    expect(tries.map((t) => t.attempt)).toEqual([1, 2, 3]);
    expect(tries.every((t) => t.verified)).toBe(true);
    expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(100);
    await waitFor("delivered", async () => (await deliveries(c.auth, job.jobId))[0]?.state === "delivered");
    expect((await deliveries(c.auth, job.jobId))[0]).toMatchObject({ attempts: 3, status: 200 });
    expect(forJob(job.jobId)).toHaveLength(3);
  });

  it("a receiver that never answers times out, and the retry goes on", async () => {
    answer = (_r, nth) => (nth === 1 ? "hang" : 200);
    const c = await clientWithSecret();
    const job = await submit(c.auth, { type: "echo", payload: 2, webhook: { url: `${receiver.url}/slow` } });
    await waitFor("delivered", async () => (await deliveries(c.auth, job.jobId))[0]?.state === "delivered");
    const tries = forJob(job.jobId);
    expect(tries).toHaveLength(2);
    expect(tries[1]!.at - tries[0]!.at).toBeGreaterThanOrEqual(500 + 100);
    expect((await deliveries(c.auth, job.jobId))[0]).toMatchObject({ attempts: 2 });
  });

  it("after the last try the delivery is a dead letter; resent, it arrives with the same webhook-id", async () => {
    let down = true;
    answer = () => (down ? 503 : 200);
    const c = await clientWithSecret();
    const job = await submit(c.auth, { type: "echo", payload: 3, webhook: { url: `${receiver.url}/down` } });
    await waitFor("failed", async () => (await deliveries(c.auth, job.jobId))[0]?.state === "failed");
    expect(forJob(job.jobId)).toHaveLength(4); // WEBHOOK_RETRY_BACKOFF has 3 waits: 4 attempts
    // What an operator sees and does: npm run dlq -- webhooks list / resend.
    const listed = (await dlq("webhooks", "list", "--json")).stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { delivery: { jobId: string; webhookId: string }; attempts: number; error: object })
      .filter((l) => l.delivery.jobId === job.jobId);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ attempts: 4, error: { code: "webhook_failed", status: 503 } });
    expect((await dlq("webhooks", "list")).stdout).toContain(listed[0]!.delivery.webhookId);
    const report = await readReport(stack.nats.jsm, stack.server.url);
    expect(report.webhooks).toMatchObject({ deadLetters: 1, waiting: 0 });
    expect(formatReport(report)).toMatch(/\nWEBHOOKS\s+0 waiting .* 1 dead letters \(npm run dlq -- webhooks list\)\n/);
    down = false;
    const resend = await dlq("webhooks", "resend", listed[0]!.delivery.webhookId);
    expect(resend.stdout).toBe(`${listed[0]!.delivery.webhookId} queued again\n`);
    await waitFor("the resent delivery", () => forJob(job.jobId).length === 5);
    expect(new Set(forJob(job.jobId).map((t) => t.id)).size).toBe(1);
    await waitFor("delivered", async () => (await deliveries(c.auth, job.jobId))[0]?.state === "delivered");
  });

  it("a client's webhook gets every job's events it lists, beside a job's own; a 410 unregisters it", async () => {
    answer = (r) => (r.id.endsWith("_client") ? 410 : 200);
    const c = await clientWithSecret();
    const put = await call(c.auth, "PUT", "/v1/clients/me/webhook", {
      url: `${receiver.url}/client`,
      events: ["started", "succeeded"],
    });
    expect(put).toEqual({ status: 200, body: { url: `${receiver.url}/client`, events: ["started", "succeeded"] } });
    expect((await call(c.auth, "GET", "/v1/clients/me/webhook")).body).toEqual(put.body);
    // The worker's dispatcher learns of it from the bucket's watch.
    await waitFor("the dispatcher knows the client's webhook", async () => (await webhookClients()) === 1);
    const first = await submit(c.auth, { type: "echo", payload: 4, webhook: { url: `${receiver.url}/own` } });
    await waitFor("the job's own delivery", () => forJob(first.jobId).some((r) => r.id.endsWith("_job")));
    await waitFor(
      "the client's webhook is unregistered",
      async () => (await call(c.auth, "GET", "/v1/clients/me/webhook")).status === 404,
    );
    const got = forJob(first.jobId);
    // The client's got only what it listed (not `queued`), signed; the job's own only `succeeded`.
    const toClient = got.filter((r) => r.id.endsWith("_client")).map((r) => r.event);
    expect(toClient[0]).toBe("job.started");
    expect(toClient.every((e) => e === "job.started" || e === "job.succeeded")).toBe(true);
    expect(got.filter((r) => r.id.endsWith("_job")).map((r) => r.event)).toEqual(["job.succeeded"]);
    expect(got.every((r) => r.verified)).toBe(true);
    // Unregistered: the next job's events go to its own webhook only.
    await waitFor("the dispatcher forgets the client's webhook", async () => (await webhookClients()) === 0);
    const second = await submit(c.auth, { type: "echo", payload: 5, webhook: { url: `${receiver.url}/own` } });
    await waitFor("delivered", async () => (await deliveries(c.auth, second.jobId))[0]?.state === "delivered");
    expect(await deliveries(c.auth, second.jobId)).toEqual([expect.objectContaining({ kind: "job" })]);
    expect(forJob(second.jobId).map((r) => r.id.endsWith("_job"))).toEqual([true]);
  });

  it("a rotated secret: both the new and the old secret verify a delivery during the grace period", async () => {
    answer = () => 200;
    const c = await clientWithSecret();
    const rotated = (await call(c.auth, "POST", "/v1/clients/me/webhook-secret")).body!.secret as string;
    expect(rotated).not.toBe(c.secret);
    const job = await submit(c.auth, { type: "echo", payload: 5, webhook: { url: `${receiver.url}/rotated` } });
    const [got] = await waitFor("the delivery", () => (forJob(job.jobId).length ? forJob(job.jobId) : null));
    const headers = {
      "webhook-id": got!.id,
      "webhook-timestamp": String(got!.timestamp),
      "webhook-signature": got!.signature,
    };
    expect(got!.signature.split(" ")).toHaveLength(2);
    expect(new Webhook(rotated).verify(got!.body, headers)).toBeTruthy();
    expect(new Webhook(c.secret).verify(got!.body, headers)).toBeTruthy();
  });

  it("the README's example receivers verify a real delivery, as printed", async () => {
    answer = () => 200;
    for (const example of ["examples/webhook-receiver.mjs", "examples/webhook-receiver-crypto.mjs"]) {
      const c = await clientWithSecret();
      const port = await freePort();
      const child = spawn(process.execPath, [example], {
        env: { ...process.env, HERALD_WEBHOOK_SECRET: c.secret, PORT: String(port) },
        stdio: ["ignore", "pipe", "inherit"],
      });
      const lines: string[] = [];
      eachLine(child.stdout, (l) => lines.push(l));
      try {
        // Listening once it accepts a connection (a signed-nothing request is refused: 401).
        await waitFor(
          example,
          async () => (await fetch(`http://127.0.0.1:${port}/`, { method: "POST" }).catch(() => null))?.status === 401,
        );
        const job = await submit(c.auth, {
          type: "echo",
          payload: 6,
          webhook: { url: `http://127.0.0.1:${port}/hook` },
        });
        await waitFor(`${example} verified it`, () => lines.some((l) => l.startsWith("verified")));
        expect(
          lines.filter((l) => l.startsWith("verified")),
          example,
        ).toEqual([expect.stringMatching(new RegExp(`^verified msg_${job.jobId}_\\d+_job succeeded ${job.jobId}$`))]);
        await waitFor("delivered", async () => (await deliveries(c.auth, job.jobId))[0]?.state === "delivered");
        expect((await deliveries(c.auth, job.jobId))[0]).toMatchObject({ status: 204, attempts: 1 });
      } finally {
        child.kill();
      }
    }
  });

  it("refuses bad webhooks with a 400 and stores nothing", async () => {
    const c = await clientWithSecret();
    const noSecret = await stack.client();
    const cases: [Auth, unknown, string][] = [
      [c.auth, "not an object", "invalid_webhook"],
      [c.auth, { url: "not a url" }, "invalid_webhook_url"],
      [c.auth, { url: "ftp://example.com/x" }, "webhook_url_refused"],
      [c.auth, { url: "https://10.1.2.3/x" }, "webhook_url_refused"],
      [c.auth, { url: "https://169.254.169.254/latest" }, "webhook_url_refused"],
      [c.auth, { url: "https://[::1]/x" }, "webhook_url_refused"],
      [c.auth, { url: `${receiver.url}/x`, events: ["finished"] }, "invalid_webhook_events"],
      [c.auth, { url: `${receiver.url}/x`, events: [] }, "invalid_webhook_events"],
      [c.auth, { url: `${receiver.url}/x`, extra: 1 }, "invalid_webhook"],
      [noSecret.auth, { url: `${receiver.url}/x` }, "webhook_secret_missing"],
    ];
    const before = (await stack.nats.jsm.streams.info("RESULTS")).state.last_seq;
    for (const [auth, webhook, code] of cases) {
      const res = await call(auth, "POST", "/v1/jobs", { type: "echo", payload: 1, webhook });
      expect([res.status, (res.body!.error as { code: string }).code], JSON.stringify(webhook)).toEqual([400, code]);
      const put = await call(auth, "PUT", "/v1/clients/me/webhook", webhook);
      if (typeof webhook === "object") {
        expect([put.status, (put.body!.error as { code: string }).code], `PUT ${JSON.stringify(webhook)}`).toEqual([
          400,
          code,
        ]);
      } else expect(put.status).toBe(400);
    }
    expect((await stack.nats.jsm.streams.info("RESULTS")).state.last_seq).toBe(before);
    expect((await call(c.auth, "GET", "/v1/clients/me/webhook")).status).toBe(404);
  });
});

describe("one client's slow receiver and long backlog", () => {
  let fair: Stack;
  let slow: Awaited<ReturnType<typeof startWebhookReceiver>>;
  let fast: Awaited<ReturnType<typeof startWebhookReceiver>>;
  beforeAll(async () => {
    slow = await startWebhookReceiver({ answer: () => "hang" });
    fast = await startWebhookReceiver();
    // Two attempts at once on the one worker, one per client: without putting a client's extra
    // deliveries back, the slow client's backlog would hold every other delivery behind it.
    fair = await startStack({
      workers: 1,
      env: {
        WEBHOOK_ALLOW_HTTP: "true",
        WEBHOOK_ALLOW_HOSTS: "127.0.0.1",
        WEBHOOK_TIMEOUT: "1s",
        WEBHOOK_CONCURRENCY: "2",
        WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT: "1",
      },
    });
  });
  afterAll(async () => {
    await fair?.close();
    await slow?.close();
    await fast?.close();
  });

  it("does not hold up another client's delivery on the same worker", async () => {
    const hooked = async (url: string) => {
      const c = await fair.client();
      await fair.http("/v1/clients/me/webhook-secret", { method: "POST", headers: c.auth });
      const res = await fair.http("/v1/clients/me/webhook", {
        method: "PUT",
        headers: { ...c.auth, "content-type": "application/json" },
        body: JSON.stringify({ url, events: ["queued", "started", "succeeded"] }),
      });
      expect(res.status).toBe(200);
      return c;
    };
    const a = await hooked(`${slow.url}/slow`);
    const b = await hooked(`${fast.url}/fast`);
    await waitFor("the dispatcher knows both webhooks", async () => {
      const v = (await fair.metrics.registry.getSingleMetric("herald_webhook_clients")!.get()).values[0]?.value;
      return v === 2;
    });
    // 10 jobs: 30 deliveries to a receiver that never answers (1 s each, one at a time)...
    for (let i = 0; i < 10; i++) await fair.submit(a.auth, "echo", { i });
    await waitFor("the slow client's first attempt", () => slow.received.length > 0);
    // ...then one job of another client, queued behind them.
    const job = await fair.submit(b.auth, "echo", "not held up");
    await waitFor("the other client's deliveries", () => fast.received.length === 3, 20_000);
    // The slow client had had at most a few of its 30 first attempts by then: its deliveries were
    // put back while it was at its bound, not waited on.
    expect(new Set(slow.received.map((r) => r.id)).size).toBeLessThan(10);
    expect(fast.received.map((r) => JSON.parse(r.body).jobId)).toEqual([job.jobId, job.jobId, job.jobId]);
  });
});

describe("webhook addresses without an allow-list", () => {
  let strict: Stack;
  beforeAll(async () => {
    // The api resolves `rebind.test` to loopback, as a name an attacker controls could.
    strict = await startStack({
      workers: 0,
      webhookLookup: async (host) => {
        if (host === "dns-down.test") throw Object.assign(new Error("getaddrinfo EAI_AGAIN"), { code: "EAI_AGAIN" });
        return host === "rebind.test"
          ? [{ address: "127.0.0.1", family: 4 }]
          : [{ address: "93.184.215.14", family: 4 }];
      },
    });
  });
  afterAll(async () => strict?.close());

  it("refuses loopback, private, link-local and metadata addresses, and a name that resolves to loopback", async () => {
    const c = await strict.client();
    await strict.http("/v1/clients/me/webhook-secret", { method: "POST", headers: c.auth });
    for (const [url, why] of [
      ["https://127.0.0.1/hook", /loopback/],
      ["https://[::1]/hook", /loopback/],
      ["https://10.20.30.40/hook", /private/],
      ["https://169.254.169.254/latest/meta-data", /metadata|link-local/],
      ["https://rebind.test/hook", /loopback/],
      ["http://example.com/hook", /http/],
    ] as const) {
      const res = await strict.http("/v1/clients/me/webhook", {
        method: "PUT",
        headers: { ...c.auth, "content-type": "application/json" },
        body: JSON.stringify({ url }),
      });
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect([res.status, body.error.code], url).toEqual([400, "webhook_url_refused"]);
      expect(body.error.message, url).toMatch(why);
    }
    // The resolver failing is not the request's fault: 503, try again.
    const dnsDown = await strict.http("/v1/clients/me/webhook", {
      method: "PUT",
      headers: { ...c.auth, "content-type": "application/json" },
      body: JSON.stringify({ url: "https://dns-down.test/hook" }),
    });
    expect([dnsDown.status, ((await dnsDown.json()) as { error: { code: string } }).error.code]).toEqual([
      503,
      "webhook_dns_unavailable",
    ]);
    const ok = await strict.http("/v1/clients/me/webhook", {
      method: "PUT",
      headers: { ...c.auth, "content-type": "application/json" },
      body: JSON.stringify({ url: "https://hooks.example.com/herald" }),
    });
    expect(ok.status).toBe(200);
  });
});
