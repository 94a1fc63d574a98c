import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ulid } from "ulid";
import { RESULTS_STREAM, resultSubject, type JobEvent } from "../../libs/contracts/mod.ts";
import { startStack, type Stack, type TestNotifier } from "../../test/helpers/stack.ts";
import { replayConsumers } from "../../test/helpers/nats.ts";
import type { Subscription } from "@nats-io/transport-node";
import { natsResumeReads } from "./resumeReads.ts";
import { CLOSED, SseClient } from "../../test/helpers/sse.ts";
import { queuedEvent } from "../../test/helpers/events.ts";

let stack: Stack;
let notifier: TestNotifier;
beforeAll(async () => {
  // No progress coalescing here: each test knows exactly which events a job stores.
  stack = await startStack({ workers: 1, env: { PROGRESS_INTERVAL_MS: "0" } });
  notifier = await stack.addNotifier();
});
afterAll(async () => stack?.close());

/** Stores `n` progress events of one (made-up) job straight into RESULTS; returns their sequences. */
async function publishEvents(clientId: string, n: number, jobId = ulid(), bytes = 0): Promise<number[]> {
  const seqs: number[] = [];
  const pad = bytes ? "x".repeat(bytes) : null;
  for (let i = 0; i < n; i++) {
    const ev: JobEvent = {
      jobId,
      clientId,
      type: "echo",
      event: "progress",
      attempt: 1,
      progress: { pct: i, message: pad },
      result: null,
      error: null,
      at: new Date().toISOString(),
    };
    seqs.push((await stack.nats.js.publish(resultSubject(clientId, jobId), JSON.stringify(ev))).seq);
  }
  return seqs;
}

function sse(token: string, path = "/v1/events", lastEventId?: string, baseUrl = () => notifier.url): SseClient {
  return new SseClient({ token, baseUrl, path, ...(lastEventId !== undefined ? { lastEventId } : {}) });
}

const increasing = (ids: number[]) => ids.every((id, i) => i === 0 || id > ids[i - 1]!);

describe("live events", () => {
  it("delivers each job's events in order, with increasing ids, to its own client only", async () => {
    const [a, b] = [await stack.client(), await stack.client()];
    const [sa, sb] = [sse(a.token), sse(b.token)];
    await sa.waitFor((c) => c.opens === 1);
    await sb.waitFor((c) => c.opens === 1);
    const jobs = await Promise.all([1, 2, 3].map(() => stack.submit(a.auth, "sleep", { ms: 60, steps: 3 })));
    const other = await stack.submit(b.auth, "echo", "b's job");
    await sa.waitFor((c) => c.events.filter((e) => e.event === "job.succeeded").length === 3, 10_000, "3 results");
    await sb.waitFor((c) => c.events.some((e) => e.event === "job.succeeded"));
    for (const { jobId } of jobs) {
      const mine = sa.events.filter((e) => JSON.parse(e.data).jobId === jobId);
      // Exactly what RESULTS stored for the job, in the same order (progress may be coalesced).
      const stored = await stack.events(a.clientId, jobId);
      expect(mine.map((e) => Number(e.id))).toEqual(stored.map((e) => e.seq));
      expect(mine.map((e) => e.event)).toEqual(stored.map((e) => `job.${e.event.event}`));
      expect(mine.map((e) => e.event).slice(0, 2)).toEqual(["job.queued", "job.started"]);
      expect(mine.at(-1)!.event).toBe("job.succeeded");
    }
    expect(increasing(sa.ids)).toBe(true);
    expect(sa.events.every((e) => JSON.parse(e.data).clientId === a.clientId)).toBe(true);
    expect(sb.events.map((e) => e.event)).toEqual(["job.queued", "job.started", "job.succeeded"]);
    expect(sb.events.every((e) => JSON.parse(e.data).jobId === other.jobId)).toBe(true);
    // Each frame's id is the event's RESULTS sequence.
    const stored = await stack.nats.jsm.streams.getMessage(RESULTS_STREAM, { seq: sa.ids[0]! });
    expect(stored?.string()).toBe(sa.events[0]!.data);
    sa.close();
    sb.close();
  });

  it("refuses a stream without a token (401), with a malformed Last-Event-ID (400), or of another client's job (404)", async () => {
    const [a, b] = [await stack.client(), await stack.client()];
    const { jobId } = await stack.submit(a.auth, "echo", 1);
    const accept = { accept: "text/event-stream" };
    expect((await fetch(`${notifier.url}/v1/events`, { headers: accept })).status).toBe(401);
    for (const bad of ["abc", "-1", "1.5", "99999999999999999999"]) {
      const res = await fetch(`${notifier.url}/v1/events`, { headers: { ...accept, ...a.auth, "last-event-id": bad } });
      expect(res.status, bad).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_last_event_id");
    }
    expect((await fetch(`${notifier.url}/v1/jobs/${jobId}/events`, { headers: { ...accept, ...b.auth } })).status).toBe(
      404,
    );
    expect(
      (await fetch(`${notifier.url}/v1/jobs/not-an-id/events`, { headers: { ...accept, ...a.auth } })).status,
    ).toBe(400);
  });
});

describe("resume", () => {
  it("resumes after an id in the middle: exactly the later events, then live", async () => {
    const c = await stack.client();
    const seqs = await publishEvents(c.clientId, 10);
    const s = sse(c.token, "/v1/events", String(seqs[4]));
    await s.waitFor((x) => x.events.length === 5);
    expect(s.ids).toEqual(seqs.slice(5));
    const more = await publishEvents(c.clientId, 3);
    await s.waitFor((x) => x.events.length === 8);
    expect(s.ids).toEqual([...seqs.slice(5), ...more]);
    s.close();
  });

  it("many mid-stream resumes, several at once: each stream gets exactly the events after its id", async () => {
    // Issue 13. On nats-server 2.9.10 a client-wide replay (a wildcard filter, file storage) could
    // end early: the replay stopped on the pending count the server reports, and 2.9.10's file
    // store undercounts when the resume point falls inside a job and the client has other jobs that
    // ended before it (filteredPendingLocked, fixed in 2.9.15). The replay now ends at a sequence it
    // read first. The layout that showed it: clients interleaved in RESULTS, each running 8 jobs of
    // 4 events with about two in flight at once, resumed at their 16th event (inside a job) by two
    // streams at once, and from a point that moves each round.
    const clients = await Promise.all(Array.from({ length: 6 }, () => stack.client()));
    const stored = new Map<string, number[]>(clients.map((c) => [c.clientId, []]));
    const jobIds = clients.map(() => Array.from({ length: 8 }, () => ulid()));
    // Job k stores its 4 events at steps 2k … 2k+3.
    const steps = Array.from({ length: 8 }, (_, k) => [0, 1, 2, 3].map((e) => ({ k, t: 2 * k + e }))).flat();
    steps.sort((a, b) => a.t - b.t || a.k - b.k);
    for (const { k } of steps) {
      for (const [i, c] of clients.entries())
        stored.get(c.clientId)!.push(...(await publishEvents(c.clientId, 1, jobIds[i]![k])));
    }
    for (let round = 0; round < 8; round++) {
      const streams = clients.flatMap((c) => {
        const seqs = stored.get(c.clientId)!;
        return [15, 15, 4 + round * 3].map((at) => ({
          expected: seqs.slice(at + 1),
          s: sse(c.token, "/v1/events", String(seqs[at])),
        }));
      });
      for (const { s, expected } of streams) {
        await s.waitFor(
          (x) => x.events.length >= expected.length,
          10_000,
          `${expected.length} events after the resume point`,
        );
      }
      for (const { s, expected } of streams) {
        s.close();
        expect(s.ids).toEqual(expected);
      }
    }
  });

  it("sends an envelope stored by someone else — other key order, line breaks — as the same event, replayed and live", async () => {
    const c = await stack.client();
    const jobId = ulid();
    const ev = (pct: number): JobEvent => ({
      jobId,
      clientId: c.clientId,
      type: "echo",
      event: "progress",
      attempt: 1,
      progress: { pct, message: "two\nlines" },
      result: null,
      error: null,
      at: new Date().toISOString(),
    });
    // Pretty-printed, keys reversed: what an operator's `nats pub` might store.
    const foreign = (e: JobEvent) => JSON.stringify(Object.fromEntries(Object.entries(e).reverse()), null, 2);
    const first = await stack.nats.js.publish(resultSubject(c.clientId, jobId), foreign(ev(1)));
    const s = sse(c.token, "/v1/events", String(first.seq - 1));
    await s.waitFor((x) => x.events.length === 1);
    await stack.nats.js.publish(resultSubject(c.clientId, jobId), foreign(ev(2)));
    await s.waitFor((x) => x.events.length === 2);
    expect(s.events.map((e) => e.event)).toEqual(["job.progress", "job.progress"]);
    expect(s.events.map((e) => JSON.parse(e.data).progress)).toEqual([
      { pct: 1, message: "two\nlines" },
      { pct: 2, message: "two\nlines" },
    ]);
    s.close();
  });

  it("replays everything retained from `earliest`", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "sleep", { ms: 200, steps: 2 });
    await stack.waitForTerminal(c.clientId, jobId);
    const seqs = await publishEvents(c.clientId, 5);
    const s = sse(c.token, "/v1/events", "earliest");
    await s.waitFor((x) => x.events.length === 10);
    expect(s.events.slice(0, 5).map((e) => e.event)).toEqual([
      "job.queued",
      "job.started",
      "job.progress",
      "job.progress",
      "job.succeeded",
    ]);
    expect(s.ids.slice(5)).toEqual(seqs);
    expect(s.gaps).toEqual([]);
    s.close();
  });

  it("an id past the end of the stream: a gap event, then everything retained (never stuck waiting)", async () => {
    const c = await stack.client();
    const seqs = await publishEvents(c.clientId, 3);
    const s = sse(c.token, "/v1/events", "999999999");
    await s.waitFor((x) => x.events.length === 3);
    expect(s.gaps).toEqual([{ reason: "unknown_id", lastEventId: 999999999, firstAvailable: expect.any(Number) }]);
    expect(s.ids).toEqual(seqs);
    s.close();
  });

  it("an id older than what is retained: a gap event first, then what is left", async () => {
    const c = await stack.client();
    const old = await publishEvents(c.clientId, 4);
    // Retention drops everything before old[2] (as max_age would).
    await stack.nats.jsm.streams.purge(RESULTS_STREAM, { seq: old[2]! });
    const s = sse(c.token, "/v1/events", String(old[0]));
    await s.waitFor((x) => x.events.length === 2);
    expect(s.gaps).toEqual([{ reason: "expired", lastEventId: old[0], firstAvailable: old[2] }]);
    expect(s.ids).toEqual(old.slice(2));
    s.close();
  });

  it("a job's stream: from its first event, ends after the terminal one, and a reconnect gets 204 so EventSource stops", async () => {
    const c = await stack.client();
    const { jobId } = await stack.submit(c.auth, "sleep", { ms: 200, steps: 2 });
    const s = sse(c.token, `/v1/jobs/${jobId}/events`);
    await s.waitFor((x) => x.readyState === CLOSED, 10_000, "EventSource closed");
    expect(s.events.map((e) => e.event)).toEqual([
      "job.queued",
      "job.started",
      "job.progress",
      "job.progress",
      "job.succeeded",
    ]);
    expect(s.opens).toBe(1); // the reconnect after the end was answered 204: no second stream
    const lastId = s.events.at(-1)!.id;
    const res = await fetch(`${notifier.url}/v1/jobs/${jobId}/events`, {
      headers: { ...c.auth, accept: "text/event-stream", "last-event-id": lastId },
    });
    expect(res.status).toBe(204);
  });
});

/** Counts the JetStream API requests that mention `clientId`, by kind, while `body` runs. */
async function countRequests(
  clientId: string,
  body: () => Promise<void>,
): Promise<{ msgGets: number; consumerCreates: number; streamInfos: number }> {
  const counts = { msgGets: 0, consumerCreates: 0, streamInfos: 0 };
  const subs: Subscription[] = [];
  const count = (subject: string, key: keyof typeof counts, mine = true) =>
    subs.push(
      stack.nats.nc.subscribe(subject, {
        callback: (_e, m) => {
          if (!mine || m.string().includes(clientId)) counts[key]++;
        },
      }),
    );
  count(`$JS.API.STREAM.MSG.GET.${RESULTS_STREAM}`, "msgGets");
  count(`$JS.API.CONSUMER.CREATE.${RESULTS_STREAM}`, "consumerCreates");
  count(`$JS.API.CONSUMER.CREATE.${RESULTS_STREAM}.>`, "consumerCreates");
  count(`$JS.API.STREAM.INFO.${RESULTS_STREAM}`, "streamInfos", false);
  await stack.nats.nc.flush();
  try {
    await body();
    await stack.nats.nc.flush();
  } finally {
    for (const sub of subs) sub.unsubscribe();
  }
  return counts;
}

describe("what a resume costs", () => {
  it("missed nothing: no read (or one, before the feed's start); missed a few: read one by one, no consumer; a long gap: a consumer", async () => {
    const c = await stack.client();
    const seqs = await publishEvents(c.clientId, 40);
    // Counted once the notifier has seen them all (before, it would serve a resume without reads:
    // nothing of the client would have passed since the id, and the events would come live).
    await expect.poll(() => notifier.feed.watermark, { timeout: 5_000 }).toBeGreaterThanOrEqual(seqs.at(-1)!);
    // Nothing missed, and the notifier's live feed saw every event since the id: no request at all.
    const vouched = await countRequests(c.clientId, async () => {
      const s = sse(c.token, "/v1/events", String(seqs.at(-1)));
      await s.waitFor((x) => x.opens === 1);
      const more = await publishEvents(c.clientId, 1);
      await s.waitFor((x) => x.events.length === 1);
      expect(s.ids).toEqual(more);
      s.close();
    });
    expect(vouched).toEqual({ msgGets: 0, consumerCreates: 0, streamInfos: 0 });
    // Nothing missed, on a notifier started after the id (its feed cannot vouch): the last event
    // matching the client is read (one MSG.GET), with the stream's bounds at the same time (one
    // STREAM.INFO, shared by the streams that open together): one round trip.
    const last = (await publishEvents(c.clientId, 1))[0]!;
    await publishEvents((await stack.client()).clientId, 1); // someone else's: the id is now before the end
    const fresher = await stack.addNotifier();
    const none = await countRequests(c.clientId, async () => {
      const s = sse(c.token, "/v1/events", String(last), () => fresher.url);
      await s.waitFor((x) => x.opens === 1);
      const more = await publishEvents(c.clientId, 1);
      await s.waitFor((x) => x.events.length === 1);
      expect(s.ids).toEqual(more);
      s.close();
    });
    expect(none).toEqual({ msgGets: 1, consumerCreates: 0, streamInfos: 1 });
    await fresher.stop();
    const all = [...seqs, ...(await publishEvents(c.clientId, 0))];
    // A few missed (3): read from the leader one by one, no consumer.
    const few = await countRequests(c.clientId, async () => {
      const s = sse(c.token, "/v1/events", String(seqs[36]));
      await s.waitFor((x) => x.events.length >= 4);
      expect(s.ids.slice(0, 3)).toEqual(seqs.slice(37));
      s.close();
    });
    expect(few.consumerCreates).toBe(0);
    expect(few.msgGets).toBeGreaterThanOrEqual(4); // the last match, then each missed event
    // A long gap (40 events): a few reads, then a consumer pages through the rest.
    const long = await countRequests(c.clientId, async () => {
      const s = sse(c.token, "/v1/events", "earliest");
      await s.waitFor((x) => x.events.length >= all.length);
      expect(s.ids.slice(0, seqs.length)).toEqual(seqs);
      s.close();
    });
    expect(long.consumerCreates).toBe(1);
  });

  it("reads of the stream's bounds asked for in the same turn share one request; a later one gets its own", async () => {
    const reads = natsResumeReads(stack.nats.js, stack.nats.jsm);
    const counts = await countRequests("-", async () => {
      const together = await Promise.all(Array.from({ length: 20 }, () => reads.bounds()));
      expect(new Set(together.map((b) => JSON.stringify(b))).size).toBe(1);
      const seq = (await publishEvents((await stack.client()).clientId, 1))[0]!;
      // Asked after the first request went out: its answer must be read after it asked.
      expect((await reads.bounds()).last).toBeGreaterThanOrEqual(seq);
    });
    expect(counts.streamInfos).toBe(2);
  });
});

describe("admission", () => {
  it("sheds a resume past the limit with 503 and a Retry-After; the client comes back and misses nothing", async () => {
    const limited = await stack.addNotifier({ SSE_RESUME_CONCURRENCY: "1", SSE_RESUME_QUEUE: "0" });
    const [slow, other] = [await stack.client(), await stack.client()];
    // A resume that cannot finish: 10 MB to replay to a client that does not read.
    await publishEvents(slow.clientId, 100, ulid(), 100_000);
    const { port } = new URL(limited.url);
    const socket = net.connect(Number(port), "127.0.0.1");
    await new Promise<void>((r) => socket.once("connect", () => r()));
    socket.write(
      `GET /v1/events?lastEventId=earliest HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAuthorization: Bearer ${slow.token}\r\n\r\n`,
    );
    socket.pause();
    socket.on("error", () => undefined);
    await expect.poll(() => limited.hub.size, { timeout: 5_000 }).toBe(1);
    const seqs = await publishEvents(other.clientId, 3);
    // Once the notifier has seen them: before, it would rightly serve the resume without a read
    // (nothing of the client had passed since its id; the events then come live), and take no slot.
    await expect.poll(() => limited.feed.watermark, { timeout: 5_000 }).toBeGreaterThanOrEqual(seqs.at(-1)!);
    const res = await fetch(`${limited.url}/v1/events`, {
      headers: { ...other.auth, accept: "text/event-stream", "last-event-id": String(seqs[0]) },
    });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(Number(res.headers.get("retry-after"))).toBeLessThanOrEqual(5);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("overloaded");
    // A stream that starts live reads nothing, and is not held back.
    const live = sse(other.token, "/v1/events", undefined, () => limited.url);
    await live.waitFor((x) => x.opens === 1);
    live.close();
    socket.destroy();
    await expect.poll(() => limited.hub.size, { timeout: 5_000 }).toBe(0);
    // Its place was kept: the next try resumes from the same id.
    const again = sse(other.token, "/v1/events", String(seqs[0]), () => limited.url);
    await again.waitFor((x) => x.events.length === 2);
    expect(again.ids).toEqual(seqs.slice(1));
    again.close();
    expect(await limited.metrics.registry.getSingleMetricAsString("herald_sse_shed_total")).toMatch(
      /reason="overloaded"[^\n]* 1/,
    );
  });

  it("turns away a resume whose feed lost its place while it waited for a slot (503), and it then misses nothing", async () => {
    const limited = await stack.addNotifier({ SSE_RESUME_CONCURRENCY: "1", SSE_RESUME_QUEUE: "10" });
    const [slow, other] = [await stack.client(), await stack.client()];
    // The one slot is held by a resume that cannot finish (a client that does not read 10 MB).
    await publishEvents(slow.clientId, 100, ulid(), 100_000);
    const { port } = new URL(limited.url);
    const socket = net.connect(Number(port), "127.0.0.1");
    await new Promise<void>((r) => socket.once("connect", () => r()));
    socket.write(
      `GET /v1/events?lastEventId=earliest HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAuthorization: Bearer ${slow.token}\r\n\r\n`,
    );
    socket.pause();
    socket.on("error", () => undefined);
    await expect.poll(() => limited.hub.size, { timeout: 5_000 }).toBe(1);
    const seqs = await publishEvents(other.clientId, 3);
    await expect.poll(() => limited.feed.watermark, { timeout: 5_000 }).toBeGreaterThanOrEqual(seqs.at(-1)!);
    // This resume reads RESULTS, so it waits in the queue behind the slow one.
    const waiting = fetch(`${limited.url}/v1/events`, {
      headers: { ...other.auth, accept: "text/event-stream", "last-event-id": String(seqs[0]) },
    });
    await expect.poll(() => limited.admission.waiting, { timeout: 5_000 }).toBe(1);
    // NATS drops (what the plugin does on the connection's "disconnected"): every stream ends, the
    // slot is free, and the waiting resume gets it while the feed does not know where it is.
    limited.feed.down();
    const res = await waiting;
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("nats_unavailable");
    socket.destroy();
    limited.feed.up();
    await expect.poll(() => limited.feed.ready, { timeout: 5_000 }).toBe(true);
    const later = await publishEvents(other.clientId, 1);
    const again = sse(other.token, "/v1/events", String(seqs[0]), () => limited.url);
    await again.waitFor((x) => x.events.length === 3);
    expect(again.ids).toEqual([...seqs.slice(1), ...later]);
    again.close();
  });

  it("/readyz says 503 while its live feed does not know where RESULTS ends, NATS up or not", async () => {
    const n = await stack.addNotifier();
    const readyz = async () => {
      const res = await fetch(`${n.url}/readyz`);
      return { status: res.status, checks: ((await res.json()) as { checks: Record<string, boolean> }).checks };
    };
    expect(await readyz()).toEqual({ status: 200, checks: { nats: true, streams: true, liveFeed: true } });
    n.feed.down(); // what a disconnect does; the feed starts over from RESULTS' end on up()
    expect(await readyz()).toEqual({ status: 503, checks: { nats: true, streams: true, liveFeed: false } });
    n.feed.up();
    await expect.poll(async () => (await readyz()).status, { timeout: 5_000 }).toBe(200);
    await n.stop();
  });

  it("answers 503 with Retry-After while it has no NATS connection (and /readyz says so)", async () => {
    const own = await startStack();
    try {
      const n = await own.addNotifier();
      const c = await own.client();
      await own.server.stop();
      await expect.poll(async () => (await fetch(`${n.url}/readyz`)).status, { timeout: 10_000 }).toBe(503);
      const jobPath = `/v1/jobs/${ulid()}/events`;
      for (const [path, lastEventId] of [
        ["/v1/events", undefined],
        ["/v1/events", "earliest"],
        ["/v1/events", "5"],
        [jobPath, undefined],
      ] as const) {
        const res = await fetch(`${n.url}${path}`, {
          headers: { ...c.auth, accept: "text/event-stream", ...(lastEventId ? { "last-event-id": lastEventId } : {}) },
        });
        expect(res.status, path).toBe(503);
        expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe("nats_unavailable");
      }
    } finally {
      await own.close().catch(() => undefined);
    }
  });
});

describe("a stopping notifier", () => {
  it("ends its streams spread over SSE_DRAIN_WINDOW, each with a short last retry:", async () => {
    const draining = await stack.addNotifier({ SSE_DRAIN_WINDOW: "1s", SSE_RETRY_MS: "2000" });
    const clients = await Promise.all(Array.from({ length: 30 }, () => stack.client()));
    const ends: { at: number; retries: number[] }[] = [];
    const readers = clients.map(async (c) => {
      const res = await fetch(`${draining.url}/v1/events`, { headers: { ...c.auth, accept: "text/event-stream" } });
      const reader = res.body!.getReader();
      let text = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      const retries = [...text.matchAll(/^retry: (\d+)$/gm)].map((m) => Number(m[1]));
      ends.push({ at: Date.now(), retries });
    });
    await expect.poll(() => draining.hub.size, { timeout: 5_000 }).toBe(clients.length);
    const t0 = Date.now();
    await draining.stop();
    await Promise.all(readers);
    expect(ends).toHaveLength(clients.length);
    // Not all at once: the ends fall in many of the window's 100 ms slices, the last near its end.
    const slices = new Set(ends.map((e) => Math.floor((e.at - t0) / 100)));
    expect(slices.size).toBeGreaterThanOrEqual(5);
    expect(Math.max(...ends.map((e) => e.at)) - t0).toBeGreaterThanOrEqual(700);
    // Each stream's last frame lowered its reconnect delay from SSE_RETRY_MS (±50%) to at most 500 ms.
    for (const e of ends) {
      expect(e.retries).toHaveLength(2);
      expect(e.retries[0]).toBeGreaterThanOrEqual(1000);
      expect(e.retries[1]).toBeLessThanOrEqual(500);
    }
  });
});

describe("a long replay", () => {
  it("replays 20,000 missed events in order, paged, and then goes live", async () => {
    const c = await stack.client();
    const jobId = ulid();
    const subject = resultSubject(c.clientId, jobId);
    const body = (i: number) =>
      JSON.stringify({
        ...queuedEvent({ jobId, clientId: c.clientId }),
        event: "progress",
        attempt: 1,
        progress: { pct: i % 100, message: null },
      });
    const seqs: number[] = [];
    for (let batch = 0; batch < 20; batch++) {
      const acks = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => stack.nats.js.publish(subject, body(batch * 1000 + i))),
      );
      seqs.push(...acks.map((a) => a.seq));
    }
    seqs.sort((a, b) => a - b);
    const s = sse(c.token, "/v1/events", "earliest");
    await s.waitFor((x) => x.events.length === 20_000, 60_000, "20,000 events");
    expect(s.ids).toEqual(seqs);
    const live = await publishEvents(c.clientId, 1);
    await s.waitFor((x) => x.events.length === 20_001);
    expect(s.ids.at(-1)).toBe(live[0]);
    s.close();
    // The replay's consumer is gone once it is done.
    expect(await replayConsumers(stack.nats.jsm)).toEqual([]);
  }, 90_000);

  it("starts with retry: (SSE_RETRY_MS, jittered ±50%) and sends a heartbeat comment every SSE_HEARTBEAT_MS", async () => {
    const n = await stack.addNotifier({ SSE_HEARTBEAT_MS: "100", SSE_RETRY_MS: "1500" });
    const c = await stack.client();
    const ctl = new AbortController();
    const res = await fetch(`${n.url}/v1/events`, {
      headers: { ...c.auth, accept: "text/event-stream" },
      signal: ctl.signal,
    });
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    expect(res.headers.get("cache-control")).toBe("no-cache");
    const reader = res.body!.getReader();
    let text = "";
    const deadline = Date.now() + 5_000;
    while ((text.match(/^: heartbeat$/gm) ?? []).length < 3 && Date.now() < deadline) {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
    }
    ctl.abort();
    const retry = Number(/^retry: (\d+)\n\n/.exec(text)?.[1]);
    expect(retry).toBeGreaterThanOrEqual(750);
    expect(retry).toBeLessThanOrEqual(2250);
    expect((text.match(/^: heartbeat$/gm) ?? []).length).toBeGreaterThanOrEqual(3);
  });
});

describe("the reconnect race", () => {
  it("over many rounds of reconnecting with the last id while events keep coming, every event arrives exactly once, in order", async () => {
    const c = await stack.client();
    let publishing = true;
    const published: number[] = [];
    const producer = (async () => {
      const jobId = ulid();
      while (publishing) published.push(...(await publishEvents(c.clientId, 5, jobId)));
    })();
    const received: number[] = [];
    let last: string | undefined;
    for (let round = 0; round < 40; round++) {
      const s = sse(c.token, "/v1/events", last ?? "earliest");
      await s.waitFor((x) => x.opens === 1);
      await new Promise((r) => setTimeout(r, 5 + (round % 7) * 3));
      s.close();
      received.push(...s.ids);
      if (s.ids.length) last = String(s.ids.at(-1));
    }
    publishing = false;
    await producer;
    const final = sse(c.token, "/v1/events", last ?? "earliest");
    await final.waitFor((x) => (x.ids.at(-1) ?? Number(last ?? 0)) >= published.at(-1)!, 10_000, "caught up");
    final.close();
    received.push(...final.ids);
    expect(published.length).toBeGreaterThan(100);
    expect(received).toEqual(published);
  });
});

describe("failover", () => {
  it("a client on notifier A resumes on notifier B when A stops, with nothing missed or repeated", async () => {
    const a = await stack.addNotifier();
    const b = await stack.addNotifier();
    const c = await stack.client();
    let current = a.url;
    const s = sse(c.token, "/v1/events", undefined, () => current);
    await s.waitFor((x) => x.opens === 1);
    let publishing = true;
    const published: number[] = [];
    const producer = (async () => {
      const jobId = ulid();
      while (publishing) {
        published.push(...(await publishEvents(c.clientId, 2, jobId)));
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    await s.waitFor((x) => x.events.length >= 20);
    current = b.url; // the load balancer now sends new connections to B
    await a.stop();
    await s.waitFor((x) => x.opens === 2, 10_000, "reconnected to B");
    await new Promise((r) => setTimeout(r, 100));
    publishing = false;
    await producer;
    await s.waitFor((x) => x.ids.at(-1) === published.at(-1), 10_000, "caught up on B");
    s.close();
    expect(b.hub.size + a.hub.size).toBeLessThanOrEqual(1);
    expect(s.ids).toEqual(published);
  });
});

describe("limits and leaks", () => {
  it("cuts off a client that stops reading at the send buffer, without holding what it misses", async () => {
    const small = await stack.addNotifier({ SSE_SEND_BUFFER_BYTES: String(256 * 1024) });
    const c = await stack.client();
    const { port } = new URL(small.url);
    // A raw connection that sends the request and then never reads a byte.
    const socket = net.connect(Number(port), "127.0.0.1");
    await new Promise<void>((r) => socket.once("connect", () => r()));
    socket.write(
      `GET /v1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nAuthorization: Bearer ${c.token}\r\n\r\n`,
    );
    socket.pause();
    socket.on("error", () => undefined);
    await expect.poll(() => small.hub.size, { timeout: 5_000 }).toBe(1);
    // 40 MB of events for this client: far more than the socket buffers and the 256 KiB send buffer.
    const heapBefore = process.memoryUsage().heapUsed;
    const jobId = ulid();
    for (let i = 0; i < 400 && small.hub.size > 0; i++) await publishEvents(c.clientId, 1, jobId, 100_000);
    await expect.poll(() => small.hub.size, { timeout: 10_000 }).toBe(0);
    // The server dropped the connection (the client, never reading, may not even notice yet).
    await expect
      .poll(() => new Promise((r) => small.app.server.getConnections((_e, n) => r(n))), { timeout: 5_000 })
      .toBe(0);
    socket.destroy();
    // What the stream held was dropped with it: no growth near the 40 MB it was sent.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(30 * 1024 * 1024);
    // The client's reconnect replays: nothing was lost for it.
    const s = sse(c.token, "/v1/events", "earliest", () => small.url);
    await s.waitFor((x) => x.events.length >= 1);
    s.close();
  });

  it("1,000 connect/disconnect cycles leave no subscription, consumer or stream behind", async () => {
    const n = await stack.addNotifier();
    const c = await stack.client();
    await publishEvents(c.clientId, 3);
    const subsBefore = await serverSubscriptions("test-notifier");
    for (let i = 0; i < 1000; i++) {
      const ctl = new AbortController();
      const res = await fetch(`${n.url}/v1/events${i % 2 ? "?lastEventId=earliest" : ""}`, {
        headers: { ...c.auth, accept: "text/event-stream" },
        signal: ctl.signal,
      });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      await reader.read(); // retry: frame (and, on odd rounds, replayed events)
      ctl.abort();
      await reader.cancel().catch(() => undefined);
    }
    await expect.poll(() => n.hub.size, { timeout: 10_000 }).toBe(0);
    await expect.poll(() => serverSubscriptions("test-notifier"), { timeout: 10_000 }).toBe(subsBefore);
    expect(await replayConsumers(stack.nats.jsm)).toEqual([]);
  });
});

/** Subscriptions the nats-server holds for connections whose name starts with `prefix` (connz). */
async function serverSubscriptions(prefix: string): Promise<number> {
  const res = await fetch(`${stack.server.monitorUrl}/connz?subs=1&limit=1000`);
  const body = (await res.json()) as { connections: { name?: string; subscriptions_list?: string[] }[] };
  return body.connections
    .filter((c) => c.name?.startsWith(prefix))
    .reduce((n, c) => n + (c.subscriptions_list?.filter((s) => s.startsWith("live.")).length ?? 0), 0);
}
