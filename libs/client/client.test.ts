import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ulid } from "ulid";
import { resultSubject, type JobEvent } from "../contracts/mod.ts";
import { startStack, type Stack, type TestNotifier } from "../../test/helpers/stack.ts";
import {
  createClient,
  registerClient,
  HeraldAuthError,
  HeraldConnectionError,
  HeraldHttpError,
  HeraldNotFoundError,
  type StreamItem,
} from "./mod.ts";

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
  stack = await startStack({ workers: 1, env: { PROGRESS_INTERVAL_MS: "0" } });
  notifiers = [await stack.addNotifier(), await stack.addNotifier()];
});
afterAll(async () => stack?.close());

async function newClient() {
  const identity = await registerClient({ url: URL_, fetch: route });
  return { identity, client: createClient({ url: URL_, token: identity.token, fetch: route }) };
}

describe("client library", () => {
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
    await expect((async () => { for await (const _ of it) { /* drain */ } })()).rejects.toBeInstanceOf(HeraldAuthError);
    const offline = createClient({ url: "http://127.0.0.1:1", token: "x" });
    await expect(offline.status(job.jobId)).rejects.toBeInstanceOf(HeraldConnectionError);
  });

  it("resumes across a notifier restart with nothing missed or repeated, and says so", async () => {
    const { identity, client } = await newClient();
    const ctl = new AbortController();
    const items: StreamItem[] = [];
    const published: number[] = [];
    const reading = (async () => {
      for await (const item of client.events({ since: "earliest", signal: ctl.signal, backoff: { initialMs: 50 } })) items.push(item);
    })();
    const jobId = ulid();
    let publishing = true;
    const producer = (async () => {
      for (let i = 0; publishing; i++) {
        const ev: JobEvent = {
          jobId, clientId: identity.clientId, type: "echo", event: "progress", attempt: 1,
          progress: { pct: i % 100, message: null }, result: null, error: null, at: new Date().toISOString(),
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
    await expect.poll(() => items.some((i) => i.type === "connection" && i.state === "resumed"), { timeout: 10_000 }).toBe(true);
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
});
