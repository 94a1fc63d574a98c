import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ulid } from "ulid";
import { resultSubject, type JobEvent } from "../contracts/mod.ts";
import { startStack, type Stack, type TestNotifier } from "../../test/helpers/stack.ts";
import { startWebhookReceiver } from "../../test/helpers/webhookReceiver.ts";
import {
  createClient,
  registerClient,
  HeraldAuthError,
  HeraldConnectionError,
  HeraldHttpError,
  HeraldNotFoundError,
  type StreamItem,
} from "./mod.ts";
import { queuedEvent } from "../../test/helpers/events.ts";

// The client library against a running stack: API and notifiers on their own ports, joined
// behind one URL by a routing fetch (what a reverse proxy does).
let stack: Stack;
let notifiers: TestNotifier[];
let current = 0;
const route: typeof fetch = (input, init) => {
  const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
  const events = /^\/v1\/(events|jobs\/[^/]+\/events)$/.test(url.pathname);
  const base = events ? notifiers[current]!.url : stack.url;
  return fetch(`${base}${url.pathname}${url.search}`, init);
};
const URL_ = "http://herald.test";

beforeAll(async () => {
  stack = await startStack({
    workers: 1,
    env: { PROGRESS_INTERVAL_MS: "0", WEBHOOK_ALLOW_HTTP: "true", WEBHOOK_ALLOW_HOSTS: "127.0.0.1" },
  });
  notifiers = [await stack.addNotifier(), await stack.addNotifier()];
});
afterAll(async () => stack?.close());

async function newClient() {
  const identity = await registerClient({ url: URL_, fetch: route });
  return { identity, client: createClient({ url: URL_, token: identity.token, fetch: route }) };
}

describe("client library", () => {
  it("rotates the webhook secret, registers and removes the client's webhook, submits a job with its own", async () => {
    const { client } = await newClient();
    const secret = await client.rotateWebhookSecret();
    const receiver = await startWebhookReceiver({ secrets: () => [secret] });
    try {
      expect(await client.setWebhook({ url: `${receiver.url}/all`, events: ["succeeded"] })).toEqual({
        url: `${receiver.url}/all`,
        events: ["succeeded"],
      });
      await client.deleteWebhook();
      const job = await client.submit("echo", { hooked: true }, { webhook: { url: `${receiver.url}/own` } });
      await expect.poll(() => receiver.received.length, { timeout: 10_000 }).toBe(1);
      expect(receiver.received[0]).toMatchObject({ verified: true, event: "job.succeeded" });
      expect(JSON.parse(receiver.received[0]!.body)).toMatchObject({ jobId: job.jobId, event: "succeeded" });
      await expect(client.setWebhook({ url: "https://10.0.0.1/x" })).rejects.toMatchObject({
        status: 400,
        code: "webhook_url_refused",
      });
    } finally {
      await receiver.close();
    }
  });

  it("submits, waits with progress, reads status", async () => {
    const { client } = await newClient();
    const job = await client.submit("sleep", { ms: 300, steps: 3 });
    expect(job.status).toBe("queued");
    const progress: number[] = [];
    const end = await client.wait(job.jobId, { onProgress: (e) => progress.push(e.progress!.pct) });
    expect(end).toMatchObject({ event: "succeeded", result: { sleptMs: 300, steps: 3 } });
    expect(progress).toEqual([33.33, 66.67, 100]);
    expect(await client.status(job.jobId)).toMatchObject({ status: "succeeded", finishedAt: expect.any(String) });
  });

  it("submits idempotently", async () => {
    const { client } = await newClient();
    const [a, b] = await Promise.all([
      client.submit("echo", 1, { idempotencyKey: "k-1" }),
      client.submit("echo", 1, { idempotencyKey: "k-1" }),
    ]);
    expect(a.jobId).toBe(b.jobId);
  });

  it("submits a job with its own time limit", async () => {
    const { client } = await newClient();
    const job = await client.submit("sleep", { ms: 30_000 }, { timeout: "200ms" });
    const end = await client.wait(job.jobId);
    expect(end).toMatchObject({ event: "failed", error: { code: "timeout" } });
    await expect(client.submit("sleep", { ms: 1 }, { timeout: "soon" })).rejects.toMatchObject({
      status: 400,
      code: "invalid_timeout",
    });
  });

  it("throws typed errors", async () => {
    const { client } = await newClient();
    await expect(client.status(ulid())).rejects.toBeInstanceOf(HeraldNotFoundError);
    await expect(client.submit("nope", {})).rejects.toMatchObject({ status: 400, code: "unknown_job_type" });
    const job = await client.submit("echo", 1);
    await client.wait(job.jobId);
    const conflict = await client.cancel(job.jobId).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(HeraldHttpError);
    expect(conflict).toMatchObject({ status: 409, code: "job_ended" });
    const stranger = createClient({ url: URL_, token: "not-a-token", fetch: route });
    await expect(stranger.status(job.jobId)).rejects.toBeInstanceOf(HeraldAuthError);
    await expect(stranger.status(job.jobId)).rejects.toMatchObject({ code: "invalid_token" });
    // A stream refused for good ends with the same typed error.
    const it = stranger.events({ since: "earliest" });
    await expect(
      (async () => {
        for await (const _ of it) {
          /* drain */
        }
      })(),
    ).rejects.toBeInstanceOf(HeraldAuthError);
    const offline = createClient({ url: "http://127.0.0.1:1", token: "x" });
    await expect(offline.status(job.jobId)).rejects.toBeInstanceOf(HeraldConnectionError);
  });

  it("resumes across a notifier restart with nothing missed or repeated, and says so", async () => {
    const { identity, client } = await newClient();
    const ctl = new AbortController();
    const items: StreamItem[] = [];
    const published: number[] = [];
    const reading = (async () => {
      for await (const item of client.events({ since: "earliest", signal: ctl.signal, backoff: { initialMs: 50 } }))
        items.push(item);
    })();
    const jobId = ulid();
    let publishing = true;
    const producer = (async () => {
      for (let i = 0; publishing; i++) {
        const ev: JobEvent = {
          ...queuedEvent({ jobId, clientId: identity.clientId }),
          event: "progress",
          attempt: 1,
          progress: { pct: i % 100, message: null },
        };
        published.push((await stack.nats.js.publish(resultSubject(identity.clientId, jobId), JSON.stringify(ev))).seq);
        await new Promise((r) => setTimeout(r, 3));
      }
    })();
    const events = () => items.filter((i): i is Extract<StreamItem, { type: "event" }> => i.type === "event");
    await expect.poll(() => events().length, { timeout: 5_000 }).toBeGreaterThan(20);
    const before = current;
    current = 1 - current; // the proxy sends new connections to the other notifier
    await notifiers[before]!.stop();
    notifiers[before] = await stack.addNotifier();
    await expect
      .poll(() => items.some((i) => i.type === "connection" && i.state === "resumed"), { timeout: 10_000 })
      .toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    publishing = false;
    await producer;
    await expect.poll(() => events().at(-1)?.id, { timeout: 10_000 }).toBe(published.at(-1));
    ctl.abort();
    await reading;
    expect(events().map((e) => e.id)).toEqual(published);
    const states = items.filter((i) => i.type === "connection").map((i) => (i as { state: string }).state);
    expect(states[0]).toBe("connecting");
    expect(states).toContain("open");
    expect(states).toContain("reconnecting");
    expect(states.at(-1)).toBe("resumed");
  });

  it("after a 503 from a notifier shedding load, waits its Retry-After and resumes from its last id", async () => {
    const { identity, client } = await newClient();
    const shedding = await stack.addNotifier({ SSE_RESUME_CONCURRENCY: "1", SSE_RESUME_QUEUE: "0" });
    const before = current;
    notifiers.push(shedding);
    current = notifiers.length - 1;
    let socket: net.Socket | undefined;
    try {
      const publish = async (n: number) => {
        const seqs: number[] = [];
        const jobId = ulid();
        for (let i = 0; i < n; i++) {
          const ev: JobEvent = {
            jobId,
            clientId: identity.clientId,
            type: "echo",
            event: "progress",
            attempt: 1,
            progress: { pct: i, message: null },
            result: null,
            error: null,
            at: new Date().toISOString(),
          };
          seqs.push((await stack.nats.js.publish(resultSubject(identity.clientId, jobId), JSON.stringify(ev))).seq);
        }
        return seqs;
      };
      // Hold the notifier's one resume slot: a replay of 10 MB to a connection that never reads.
      const hog = await newClient();
      for (let i = 0; i < 100; i++) {
        const ev: JobEvent = {
          jobId: ulid(),
          clientId: hog.identity.clientId,
          type: "echo",
          event: "progress",
          attempt: 1,
          progress: { pct: 1, message: "x".repeat(100_000) },
          result: null,
          error: null,
          at: new Date().toISOString(),
        };
        await stack.nats.js.publish(resultSubject(hog.identity.clientId, ev.jobId), JSON.stringify(ev));
      }
      socket = net.connect(Number(new URL(shedding.url).port), "127.0.0.1");
      await new Promise<void>((r) => socket!.once("connect", () => r()));
      socket.write(
        `GET /v1/events?lastEventId=earliest HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAuthorization: Bearer ${hog.identity.token}\r\n\r\n`,
      );
      socket.pause();
      socket.on("error", () => undefined);
      await expect.poll(() => shedding.hub.size, { timeout: 5_000 }).toBe(1);

      const seqs = await publish(3);
      // Once the notifier has seen them: before, it would rightly serve the client without a read
      // (nothing of it had passed since its id; the events then come live), and take no slot.
      await expect.poll(() => shedding.feed.watermark, { timeout: 5_000 }).toBeGreaterThanOrEqual(seqs.at(-1)!);
      const ctl = new AbortController();
      const items: StreamItem[] = [];
      const reading = (async () => {
        for await (const item of client.events({ since: seqs[0]!, signal: ctl.signal, backoff: { initialMs: 50 } }))
          items.push(item);
      })();
      await expect
        .poll(() => items.find((i) => i.type === "connection" && i.state === "reconnecting"), { timeout: 5_000 })
        .toBeTruthy();
      const refused = items.find((i) => i.type === "connection" && i.state === "reconnecting") as Extract<
        StreamItem,
        { type: "connection" }
      >;
      expect(refused.error).toBeInstanceOf(HeraldHttpError);
      expect((refused.error as HeraldHttpError).status).toBe(503);
      // The server's Retry-After (1-5 s), not the 50 ms backoff.
      expect(refused.retryInMs).toBeGreaterThanOrEqual(1_000);
      expect(refused.retryInMs).toBeLessThanOrEqual(5_000);
      socket.destroy(); // the slot is free again
      const events = () => items.filter((i): i is Extract<StreamItem, { type: "event" }> => i.type === "event");
      await expect.poll(() => events().length, { timeout: 10_000 }).toBe(2);
      expect(events().map((e) => e.id)).toEqual(seqs.slice(1));
      ctl.abort();
      await reading;
    } finally {
      // Whatever happened: a connection that never reads would keep the notifier from closing.
      socket?.destroy();
      current = before;
      notifiers.pop();
      await shedding.stop();
    }
  });

  it("lists the client's jobs newest first, by page and filter, and resumes its events from the list's eventId", async () => {
    const { client } = await newClient();
    const a = await client.submit("echo", { n: 1 });
    const b = await client.submit("sleep", { ms: 60_000 });
    await client.wait(a.jobId);
    const all = await client.jobs();
    expect(all.jobs.map((j) => j.jobId)).toEqual([b.jobId, a.jobId]);
    expect(all.nextCursor).toBeNull();
    const first = await client.jobs({ limit: 1 });
    expect(first.jobs.map((j) => j.jobId)).toEqual([b.jobId]);
    const second = await client.jobs({ limit: 1, cursor: first.nextCursor! });
    expect(second.jobs.map((j) => j.jobId)).toEqual([a.jobId]);
    expect((await client.jobs({ status: "succeeded" })).jobs.map((j) => j.jobId)).toEqual([a.jobId]);
    expect((await client.jobs({ status: ["queued", "running"], type: "sleep" })).jobs.map((j) => j.jobId)).toEqual([
      b.jobId,
    ]);
    await expect(client.jobs({ cursor: "nope!" })).rejects.toMatchObject({ status: 400, code: "invalid_cursor" });
    // From the list's eventId, the stream brings what came after it: here, b's cancel.
    const ac = new AbortController();
    const seen: JobEvent[] = [];
    const done = (async () => {
      for await (const item of client.events({ since: all.eventId, signal: ac.signal })) {
        if (item.type !== "event") continue;
        seen.push(item.event);
        if (item.event.event === "canceled") ac.abort();
      }
    })().catch(() => undefined);
    await client.cancel(b.jobId);
    await done;
    expect(seen.at(-1)).toMatchObject({ jobId: b.jobId, event: "canceled" });
    expect(seen.every((e) => e.jobId === b.jobId)).toBe(true);
  });

  it("reads a job's state once it has ended (status with wait), or as it is when the wait runs out", async () => {
    const { client } = await newClient();
    const job = await client.submit("sleep", { ms: 200, steps: 2 });
    expect(await client.status(job.jobId, { wait: 30 })).toMatchObject({
      status: "succeeded",
      result: { sleptMs: 200, steps: 2 },
    });
    const long = await client.submit("sleep", { ms: 60_000 });
    const state = await client.waitForEnd(long.jobId, { timeoutMs: 1_000 });
    expect(state).toMatchObject({ jobId: long.jobId, finishedAt: null });
    expect(["queued", "running"]).toContain(state.status);
    await client.cancel(long.jobId);
    expect(await client.waitForEnd(long.jobId)).toMatchObject({ status: "canceled" });
  });

  it("waits over plain HTTP where the URL serves no event streams (an api alone)", async () => {
    const paths: string[] = [];
    const apiOnly: typeof fetch = (input, init) => {
      const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
      paths.push(`${url.pathname}${url.search}`);
      return fetch(`${stack.url}${url.pathname}${url.search}`, init);
    };
    const identity = await registerClient({ url: URL_, fetch: apiOnly });
    const client = createClient({ url: URL_, token: identity.token, fetch: apiOnly });
    const job = await client.submit("sleep", { ms: 300, steps: 3 });
    const end = await client.wait(job.jobId);
    expect(end).toMatchObject({
      jobId: job.jobId,
      clientId: identity.clientId,
      type: "sleep",
      event: "succeeded",
      result: { sleptMs: 300, steps: 3 },
    });
    expect(paths).toContain(`/v1/jobs/${job.jobId}/events?lastEventId=earliest`);
    expect(paths.some((p) => p.startsWith(`/v1/jobs/${job.jobId}?wait=`))).toBe(true);
    // A job that is not the caller's is still a 404 over HTTP.
    await expect(client.wait(ulid())).rejects.toBeInstanceOf(HeraldNotFoundError);
  });
});
