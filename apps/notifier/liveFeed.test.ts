import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { EventStream, type StreamEnd } from "./eventStream.ts";
import { LiveFeed, type LiveSource } from "./liveFeed.ts";
import type { RawEvent } from "../../libs/results/mod.ts";
import type { ResumeReads } from "./resumeReads.ts";
import type { EventSink, Frame, GoneListener } from "./sink.ts";
import type { ResumeFrom } from "./lastEventId.ts";

// The stream logic against a fake RESULTS, a fake subscription and a fake sink: the only way to
// make live events arrive out of order on demand (nats-server ≥ 2.10 republishes in order). The
// same logic against a real nats-server is in notifier.test.ts.

const log = pino({ level: "silent" });
const CLIENT = "c1";
const JOB = "01JDZ0000000000000000000AA";

/** A stand-in for RESULTS and its republish: `store` appends; `republish` sends a live copy now. */
class FakeResults implements LiveSource {
  readonly stored: { seq: number; subject: string; json: string }[] = [];
  #onMessage: ((subject: string, seq: number, data: () => string) => void) | null = null;
  /** Make readSeq fail (RESULTS unreachable). */
  failReads = false;
  reads: number[] = [];

  store(clientId = CLIENT, jobId = JOB): number {
    const seq = this.stored.length + 1;
    this.stored.push({
      seq,
      subject: `results.${clientId}.${jobId}`,
      json: JSON.stringify({ event: "progress", clientId, jobId, n: seq }),
    });
    return seq;
  }

  republish(seq: number): void {
    const m = this.stored[seq - 1]!;
    this.#onMessage?.(m.subject.replace(/^results\./, "live."), seq, () => m.json);
  }

  subscribe(onMessage: (subject: string, seq: number, data: () => string) => void): () => void {
    this.#onMessage = onMessage;
    return () => (this.#onMessage = null);
  }

  async lastSeq(): Promise<number> {
    return this.stored.length;
  }

  async readSeq(seq: number): Promise<{ subject: string; json: string } | null> {
    this.reads.push(seq);
    if (this.failReads) throw new Error("RESULTS unreachable");
    return this.stored[seq - 1] ?? null;
  }

  /** ResumeReads over the same store. */
  reads_(): ResumeReads {
    const matches = (filter: string, subject: string) =>
      filter.endsWith(".>") ? subject.startsWith(filter.slice(0, -1)) : subject === filter;
    return {
      lastMatch: async (filter) => this.stored.filter((m) => matches(filter, m.subject)).at(-1)?.seq ?? null,
      bounds: async () => ({ first: 1, last: this.stored.length }),
      replay: (filter, fromSeq, lastSeq) => {
        const list = this.stored.filter((m) => m.seq >= fromSeq && m.seq <= lastSeq && matches(filter, m.subject));
        return (async function* (): AsyncGenerator<RawEvent> {
          for (const m of list) yield { seq: m.seq, json: m.json };
        })();
      },
    };
  }
}

/** What a plain EventSource would see: the frames written, and the last `id:`. */
class FakeSink implements EventSink {
  readonly ids: number[] = [];
  readonly frames: Frame[] = [];
  closed = false;
  #gone: GoneListener | null = null;
  send(frame: Frame): Promise<void> {
    this.frames.push(frame);
    return Promise.resolve();
  }
  writeEvent(seq: number): boolean {
    this.ids.push(seq);
    return true;
  }
  drained(): Promise<void> {
    return Promise.resolve();
  }
  heartbeat(): void {}
  close(): void {
    this.closed = true;
  }
  destroy(): void {
    this.closed = true;
  }
  onGone(stream: GoneListener): void {
    this.#gone = stream;
  }
  /** The client drops the connection. */
  drop(): void {
    this.#gone?.end("client_closed");
  }
  /** The Last-Event-ID a reconnecting EventSource would send. */
  get lastEventId(): number | undefined {
    return this.ids.at(-1);
  }
}

async function openStream(feed: LiveFeed, results: FakeResults, from: ResumeFrom = { kind: "live" }, jobId?: string) {
  const sink = new FakeSink();
  const ends: StreamEnd[] = [];
  const stream = new EventStream({
    feed,
    reads: results.reads_(),
    clientId: CLIENT,
    ...(jobId ? { jobId } : {}),
    from,
    sink,
    retryMs: 1000,
    sendBufferBytes: 1 << 20,
    log,
  });
  await stream.start((end) => ends.push(end));
  await settle();
  return { sink, ends, stream };
}

/** Lets pending promise reactions and immediate callbacks run. */
const settle = () => new Promise((r) => setImmediate(r));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("live feed: events in sequence order, whatever order they arrive in", () => {
  it("holds an event that arrives before an earlier one: the client gets 9 then 10, each once", async () => {
    const results = new FakeResults();
    const feed = new LiveFeed(results, log, { holeWaitMs: 60_000 });
    for (let i = 0; i < 8; i++) results.republish(results.store());
    await feed.start();
    const { sink } = await openStream(feed, results);
    const [s9, s10] = [results.store(), results.store()];
    results.republish(s10); // the later one first
    await settle();
    // 10 is not sent before 9: a client that dropped now would resume after 8, not after 10.
    expect(sink.ids).toEqual([]);
    results.republish(s9);
    results.republish(s9); // and a repeat of it, for good measure
    await settle();
    expect(sink.ids).toEqual([s9, s10]);
    expect(feed.counts.filled).toBe(0);
    feed.stop();
  });

  it("a client that drops while a later event waits for an earlier one resumes from its last id and gets both, once", async () => {
    const results = new FakeResults();
    const feed = new LiveFeed(results, log, { holeWaitMs: 60_000 });
    await feed.start();
    const first = await openStream(feed, results);
    const s1 = results.store();
    results.republish(s1);
    await settle();
    const [s2, s3] = [results.store(), results.store()];
    results.republish(s3); // 2 is late
    await settle();
    first.sink.drop();
    await settle();
    expect(first.ends).toEqual(["client_closed"]);
    // The id the client holds is a cursor: everything of its up to it was sent.
    expect(first.sink.lastEventId).toBe(s1);
    const again = await openStream(feed, results, { kind: "after", seq: first.sink.lastEventId! });
    results.republish(s2); // the late one arrives at last, after the resume read it
    await settle();
    expect(again.sink.ids).toEqual([s2, s3]);
    expect([...first.sink.ids, ...again.sink.ids]).toEqual([s1, s2, s3]);
    feed.stop();
  });

  it("reads a hole from RESULTS when the late event never comes (an old leader's last event)", async () => {
    const results = new FakeResults();
    const feed = new LiveFeed(results, log, { holeWaitMs: 20 });
    await feed.start();
    const { sink } = await openStream(feed, results);
    const [a, b, c] = [results.store(), results.store(), results.store()];
    results.republish(a);
    results.republish(c); // b is never republished
    await settle();
    expect(sink.ids).toEqual([a]);
    await waitFor(() => sink.ids.length === 3);
    expect(sink.ids).toEqual([a, b, c]);
    expect(results.reads).toEqual([b]);
    expect(feed.counts.filled).toBe(1);
    feed.stop();
  });

  it("skips a hole RESULTS no longer holds (removed meanwhile), as a replay would", async () => {
    const results = new FakeResults();
    const feed = new LiveFeed(results, log, { holeWaitMs: 20 });
    await feed.start();
    const { sink } = await openStream(feed, results);
    const a = results.store();
    results.store(); // stored, then gone
    results.stored[a] = undefined as never;
    const c = results.store();
    results.republish(a);
    results.republish(c);
    await waitFor(() => sink.ids.length === 2);
    expect(sink.ids).toEqual([a, c]);
    expect(feed.counts.skipped).toBe(1);
    feed.stop();
  });

  it("a hole it cannot read ends every stream (they resume from their ids) and never sends what is above it", async () => {
    const results = new FakeResults();
    const feed = new LiveFeed(results, log, { holeWaitMs: 10, holeGiveUpMs: 50 });
    await feed.start();
    const { sink, ends } = await openStream(feed, results);
    const [a, , c] = [results.store(), results.store(), results.store()];
    results.failReads = true;
    results.republish(a);
    results.republish(c);
    await waitFor(() => ends.length === 1);
    expect(ends).toEqual(["nats_unavailable"]);
    expect(sink.ids).toEqual([a]);
    expect(feed.counts.resets).toBe(1);
    // The feed starts over from the stream's end, and serves new streams.
    await waitFor(() => feed.ready);
    expect(feed.watermark).toBe(c);
    feed.stop();
  });

  it("after a leader change, reads events stored at the end of the stream that were never republished", async () => {
    const results = new FakeResults();
    const feed = new LiveFeed(results, log, { holeWaitMs: 10 });
    await feed.start();
    const { sink } = await openStream(feed, results);
    const a = results.store();
    results.republish(a);
    const b = results.store(); // stored by the old leader, never republished; nothing comes after it
    await feed.checkTail();
    await waitFor(() => sink.ids.length === 2);
    expect(sink.ids).toEqual([a, b]);
    feed.stop();
  });

  it("a job's stream gets only that job's events; other clients' events pass through in order", async () => {
    const results = new FakeResults();
    const feed = new LiveFeed(results, log, { holeWaitMs: 60_000 });
    await feed.start();
    const other = "01JDZ0000000000000000000BB";
    const mine = results.store(CLIENT, JOB);
    results.republish(mine); // before the stream: it comes from the replay
    const { sink, ends } = await openStream(feed, results, { kind: "earliest" }, JOB);
    expect(sink.ids).toEqual([mine]);
    const seqs = [results.store("c2", JOB), results.store(CLIENT, other), results.store(CLIENT, JOB)];
    for (const s of [...seqs].reverse()) results.republish(s);
    await settle();
    expect(sink.ids).toEqual([mine, seqs[2]]);
    expect(ends).toEqual([]);
    feed.stop();
  });

  it("NATS going down ends every stream, and the feed is not ready until it is back", async () => {
    const results = new FakeResults();
    const feed = new LiveFeed(results, log);
    await feed.start();
    const { ends } = await openStream(feed, results);
    feed.down();
    expect(ends).toEqual(["nats_unavailable"]);
    expect(feed.ready).toBe(false);
    results.store();
    feed.up();
    await waitFor(() => feed.ready);
    expect(feed.watermark).toBe(1);
    feed.stop();
  });
});

describe("live feed: what it can vouch for without reading RESULTS", () => {
  it("a client with no event since its id, within the feed's run: missed nothing; otherwise it does not know", async () => {
    const results = new FakeResults();
    for (let i = 0; i < 3; i++) results.store("c0");
    const feed = new LiveFeed(results, log, { maxTracked: 2 });
    await feed.start(); // the run starts after sequence 3
    const a = results.store("ca");
    const b = results.store("cb");
    results.republish(a);
    results.republish(b);
    expect(feed.missedNothing("ca", a)).toBe(true); // its last event is its id
    expect(feed.missedNothing("ca", a - 1)).toBe(false); // it missed `a`
    expect(feed.missedNothing("cx", b)).toBe(true); // no event at all since b
    expect(feed.missedNothing("cx", 3)).toBe(true); // from the run's very start
    expect(feed.missedNothing("cx", 2)).toBe(false); // before the run: the feed did not see 3
    expect(feed.missedNothing("cx", b + 1)).toBe(false); // not handed out yet: an id from elsewhere
    // Past maxTracked the least recent client is forgotten; what it knew of it becomes a bound for
    // every client it does not know: conservative (it reads RESULTS), never wrong.
    const c = results.store("cc");
    results.republish(c);
    expect(feed.missedNothing("cc", c)).toBe(true);
    // ca is forgotten (its last was a): the bound a answers for it, and for any unknown client.
    expect(feed.missedNothing("ca", a)).toBe(true);
    expect(feed.missedNothing("ca", a - 1)).toBe(false);
    expect(feed.missedNothing("cx", a - 1)).toBe(false); // was true before: conservative now
    expect(feed.missedNothing("cb", b - 1)).toBe(false); // cb is still known: it missed b
    // Losing its place (NATS down) voids what it knew.
    feed.down();
    feed.up();
    await waitFor(() => feed.ready);
    expect(feed.missedNothing("cc", c)).toBe(true); // c is the new run's start
    expect(feed.missedNothing("cc", c - 1)).toBe(false);
    feed.stop();
  });

  it("a stream resuming from an id the feed vouches for reads nothing, and gets what comes next", async () => {
    const results = new FakeResults();
    const feed = new LiveFeed(results, log);
    await feed.start();
    const first = results.store();
    results.republish(first);
    let reads = 0;
    const counting = results.reads_();
    const original = results.reads_.bind(results);
    results.reads_ = () => ({
      lastMatch: (f) => {
        reads++;
        return counting.lastMatch(f);
      },
      bounds: () => {
        reads++;
        return counting.bounds();
      },
      replay: (f, a, b) => {
        reads++;
        return counting.replay(f, a, b);
      },
    });
    const { sink } = await openStream(feed, results, { kind: "after", seq: first });
    const next = results.store();
    results.republish(next);
    await settle();
    expect(sink.ids).toEqual([next]);
    expect(reads).toBe(0);
    // One that missed `next` reads RESULTS for it.
    const behind = await openStream(feed, results, { kind: "after", seq: first });
    expect(behind.sink.ids).toEqual([next]);
    expect(reads).toBeGreaterThan(0);
    results.reads_ = original;
    feed.stop();
  });
});

async function waitFor(cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not reached");
    await sleep(5);
  }
}
