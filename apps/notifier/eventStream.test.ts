import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { EventStream, type StreamEnd } from "./eventStream.ts";
import type { ResumeFrom } from "./lastEventId.ts";
import { LiveFeed, type LiveSource } from "./liveFeed.ts";
import type { RawEvent } from "../../libs/results/mod.ts";
import type { ResumeReads, StreamBounds } from "./resumeReads.ts";
import type { EventSink, Frame, GoneListener } from "./sink.ts";

// EventStream on its own: a real LiveFeed over a fake subscription, fake resume reads and a fake
// sink, no NATS. Every step of the resume algorithm (register, read the last match, replay, then
// live) can be held here at will, so the timing cases are pinned exactly rather than hoped for. The
// same streams against a real nats-server: notifier.test.ts.

const log = pino({ level: "silent" });
const CLIENT = "c1";
const JOB = "01JDZ0000000000000000000AA";
const OTHER_JOB = "01JDZ0000000000000000000BB";

/** A promise held until open() is called: a read in flight, or a socket that is full. */
class Gate {
  readonly promise: Promise<void>;
  open!: () => void;
  constructor() {
    this.promise = new Promise((resolve) => (this.open = resolve));
  }
}

interface Stored {
  seq: number;
  subject: string;
  json: string;
}

/** RESULTS as the fakes see it: append-only, numbered from 1, nothing lost. */
class FakeResults {
  readonly stored: Stored[] = [];

  store(o: { clientId?: string; jobId?: string; event?: string; data?: string } = {}): number {
    const { clientId = CLIENT, jobId = JOB, event = "progress", data = "" } = o;
    const seq = this.stored.length + 1;
    this.stored.push({
      seq,
      subject: `results.${clientId}.${jobId}`,
      json: JSON.stringify({ event, clientId, jobId, seq, data }),
    });
    return seq;
  }

  /** Stores `n` events of the client's job; returns their sequences. */
  storeMany(n: number, o: Parameters<FakeResults["store"]>[0] = {}): number[] {
    return Array.from({ length: n }, () => this.store(o));
  }

  matching(filter: string): Stored[] {
    const prefix = filter.endsWith(".>") ? filter.slice(0, -1) : null;
    return this.stored.filter((m) => (prefix ? m.subject.startsWith(prefix) : m.subject === filter));
  }
}

/** The live subscription: `republish` hands a stored event to the feed now, as RESULTS' republish would. */
class FakeLiveSource implements LiveSource {
  readonly #results: FakeResults;
  #onMessage: ((subject: string, seq: number, data: () => string) => void) | null = null;

  constructor(results: FakeResults) {
    this.#results = results;
  }

  republish(...seqs: number[]): void {
    for (const seq of seqs) {
      const m = this.#results.stored[seq - 1]!;
      this.#onMessage?.(m.subject.replace(/^results\./, "live."), seq, () => m.json);
    }
  }

  subscribe(onMessage: (subject: string, seq: number, data: () => string) => void): () => void {
    this.#onMessage = onMessage;
    return () => (this.#onMessage = null);
  }

  async lastSeq(): Promise<number> {
    return this.#results.stored.length;
  }

  async readSeq(seq: number): Promise<{ subject: string; json: string } | null> {
    return this.#results.stored[seq - 1] ?? null;
  }
}

/**
 * What a resume reads, counted, each read able to be held: `lastMatch` (the client's last stored
 * event), `bounds` (where RESULTS starts and ends) and `replay`, which pages like readEventsFrom (a
 * page is read from the store when the stream asks for it, never ahead).
 */
class FakeResumeReads implements ResumeReads {
  readonly #results: FakeResults;
  readonly calls: string[] = [];
  /** RESULTS' first sequence (events below it have expired). */
  first = 1;
  pageSize = 4;
  pagesRead = 0;
  /** Set to hold the next lastMatch until opened. */
  lastMatchGate: Gate | null = null;
  /** Set to hold the next bounds read until opened. */
  boundsGate: Gate | null = null;
  /** Set to hold every page read until opened. */
  pageGate: Gate | null = null;

  constructor(results: FakeResults) {
    this.#results = results;
  }

  get count(): number {
    return this.calls.length;
  }

  async lastMatch(filter: string): Promise<number | null> {
    this.calls.push("lastMatch");
    await this.lastMatchGate?.promise;
    return this.#results.matching(filter).at(-1)?.seq ?? null;
  }

  async bounds(): Promise<StreamBounds> {
    this.calls.push("bounds");
    await this.boundsGate?.promise;
    return { first: this.first, last: this.#results.stored.length };
  }

  replay(filter: string, fromSeq: number, lastSeq: number): AsyncIterable<RawEvent> {
    this.calls.push(`replay ${fromSeq}..${lastSeq}`);
    const reads = this;
    const results = this.#results;
    return (async function* () {
      let next = fromSeq;
      for (;;) {
        await reads.pageGate?.promise;
        const page = results
          .matching(filter)
          .filter((m) => m.seq >= next && m.seq <= lastSeq)
          .slice(0, reads.pageSize);
        reads.pagesRead++;
        for (const m of page) yield { seq: m.seq, json: m.json };
        if (page.length < reads.pageSize) return;
        next = page.at(-1)!.seq + 1;
      }
    })();
  }
}

/** The client's side of the connection: every frame, in order; can be made full (no drain until opened). */
class FakeSink implements EventSink {
  /** What the client got, in order: `retry 1000`, `gap expired 3→5`, or an event's sequence. */
  readonly got: (number | string)[] = [];
  readonly frames: Frame[] = [];
  closed = false;
  destroyed = false;
  /** Set while the socket is full: writeEvent says so, and drained() waits for the gate. */
  full: Gate | null = null;
  #gone: GoneListener | null = null;

  get ids(): number[] {
    return this.got.filter((g): g is number => typeof g === "number");
  }

  send(frame: Frame): Promise<void> {
    this.frames.push(frame);
    if (frame.retry !== undefined) this.got.push(`retry ${frame.retry}`);
    if (frame.event === "gap") {
      const gap = JSON.parse(frame.data!) as { reason: string; lastEventId: number; firstAvailable: number };
      this.got.push(`gap ${gap.reason} ${gap.lastEventId}→${gap.firstAvailable}`);
    }
    return Promise.resolve();
  }

  writeEvent(seq: number): boolean {
    this.got.push(seq);
    return this.full === null;
  }

  async drained(): Promise<void> {
    await this.full?.promise;
  }

  heartbeat(): void {}

  close(): void {
    this.closed = true;
  }

  destroy(): void {
    this.destroyed = true;
  }

  onGone(stream: GoneListener): void {
    this.#gone = stream;
  }

  /** The client drops the connection. */
  drop(): void {
    this.#gone?.end("client_closed");
  }
}

/** RESULTS, its live republish and a started feed over it. */
async function setUp(o: { before?: number } = {}) {
  const results = new FakeResults();
  const source = new FakeLiveSource(results);
  const reads = new FakeResumeReads(results);
  // A hole waits (practically) for ever: a test fills it itself, or shows that it is held.
  const feed = new LiveFeed(source, log, { holeWaitMs: 60_000 });
  const before = results.storeMany(o.before ?? 0);
  await feed.start();
  return { results, source, reads, feed, before };
}

/** Opens a stream; resolves when it is under way (its first frame written), as Hub.serve does. */
async function open(
  feed: LiveFeed,
  reads: ResumeReads,
  o: { from?: ResumeFrom; jobId?: string; sendBufferBytes?: number; sink?: FakeSink } = {},
) {
  const sink = o.sink ?? new FakeSink();
  const ends: StreamEnd[] = [];
  let replayed = false;
  const stream = new EventStream({
    feed,
    reads,
    clientId: CLIENT,
    ...(o.jobId ? { jobId: o.jobId } : {}),
    from: o.from ?? { kind: "live" },
    sink,
    retryMs: 1000,
    sendBufferBytes: o.sendBufferBytes ?? 1 << 20,
    log,
    onReplayed: () => (replayed = true),
  });
  await stream.start((end) => ends.push(end));
  return { sink, ends, stream, replayed: () => replayed };
}

/** Lets pending promise reactions and immediate callbacks run. */
const settle = async (turns = 3) => {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
};

describe("EventStream: where a stream starts, and what it reads for it", () => {
  it("no Last-Event-ID: reads nothing, sends nothing stored before it, then every live event", async () => {
    const { results, source, reads, feed } = await setUp({ before: 3 });
    const { sink, replayed } = await open(feed, reads);
    await settle();
    expect(reads.calls).toEqual([]);
    expect(sink.got).toEqual(["retry 1000"]);
    expect(replayed()).toBe(true);
    const live = results.storeMany(2);
    source.republish(...live);
    await settle();
    expect(sink.got).toEqual(["retry 1000", ...live]);
    expect(reads.calls).toEqual([]);
    feed.stop();
  });

  it("a resume the feed can vouch for (no event of the client since its id): reads nothing, then live", async () => {
    const { results, source, reads, feed } = await setUp({ before: 2 });
    const mine = results.store();
    const others = results.store({ clientId: "c2" });
    source.republish(mine, others);
    const { sink } = await open(feed, reads, { from: { kind: "after", seq: mine } });
    await settle();
    expect(reads.calls).toEqual([]);
    const next = results.store();
    source.republish(next);
    await settle();
    expect(sink.got).toEqual(["retry 1000", next]);
    expect(reads.calls).toEqual([]);
    feed.stop();
  });

  it("a short gap: reads the last match and the bounds together, replays exactly the events after the id, then live", async () => {
    const { results, source, reads, feed } = await setUp();
    const seen = results.storeMany(3);
    source.republish(...seen);
    const missed = [results.store(), results.store({ clientId: "c2" }), results.store({ jobId: OTHER_JOB })];
    source.republish(...missed);
    const { sink, replayed } = await open(feed, reads, { from: { kind: "after", seq: seen.at(-1)! } });
    await settle();
    expect(reads.calls).toEqual(["bounds", "lastMatch", `replay 4..6`]);
    expect(sink.got).toEqual(["retry 1000", missed[0], missed[2]]);
    expect(replayed()).toBe(true);
    const live = results.store();
    source.republish(live);
    await settle();
    expect(sink.ids).toEqual([missed[0], missed[2], live]);
    feed.stop();
  });

  it("a long gap: pages through the replay only as fast as the client reads (no page ahead), in order, then live", async () => {
    const { results, source, reads, feed } = await setUp();
    const missed = results.storeMany(40);
    source.republish(...missed);
    const sink = new FakeSink();
    sink.full = new Gate(); // the client reads slowly: each event fills the socket
    const { replayed } = await open(feed, reads, { from: { kind: "earliest" }, sink });
    await settle();
    // One event written, waiting for the socket to drain: one page read, none ahead.
    expect(sink.ids).toEqual([1]);
    expect(reads.pagesRead).toBe(1);
    const live = results.store();
    source.republish(live); // comes while the replay is under way: waits for it
    for (let i = 0; i < 100 && !replayed(); i++) {
      const full = sink.full!;
      sink.full = new Gate();
      full.open();
      await settle();
      // The pages read never run ahead of what was written by more than one page.
      expect(reads.pagesRead).toBeLessThanOrEqual(Math.floor(sink.ids.length / reads.pageSize) + 1);
    }
    sink.full.open();
    sink.full = null;
    await settle();
    expect(reads.calls).toEqual(["lastMatch", "replay 1..40"]); // `earliest` needs no bounds
    expect(reads.pagesRead).toBe(11); // 10 full pages of 4, and the empty one that ends it
    expect(sink.ids).toEqual([...missed, live]);
    feed.stop();
  });

  it("an id older than what RESULTS retains: a gap event, then what is left", async () => {
    const { results, source, reads, feed } = await setUp();
    const all = results.storeMany(6);
    source.republish(...all);
    reads.first = 4; // 1–3 have expired
    const { sink } = await open(feed, reads, { from: { kind: "after", seq: 1 } });
    await settle();
    expect(sink.got).toEqual(["retry 1000", "gap expired 1→4", 4, 5, 6]);
    feed.stop();
  });

  it("an id past the end of RESULTS (not one of its ids): a gap event, then everything retained, then live", async () => {
    const { results, source, reads, feed } = await setUp();
    const all = results.storeMany(3);
    source.republish(...all);
    const { sink } = await open(feed, reads, { from: { kind: "after", seq: 99 } });
    await settle();
    expect(sink.got).toEqual(["retry 1000", "gap unknown_id 99→1", 1, 2, 3]);
    const live = results.store();
    source.republish(live);
    await settle();
    expect(sink.ids).toEqual([1, 2, 3, live]);
    feed.stop();
  });
});

describe("EventStream: late events, never lost, never repeated", () => {
  it("an event stored while the stream reads its last match is replayed, and its live copy is not sent again", async () => {
    const { results, source, reads, feed } = await setUp();
    const earlier = results.store();
    source.republish(earlier);
    reads.lastMatchGate = new Gate();
    const { sink } = await open(feed, reads, { from: { kind: "earliest" } });
    await settle();
    // Registered for live events, reading its last match: an event is stored now, and comes live.
    const late = results.store();
    source.republish(late);
    await settle();
    expect(sink.ids).toEqual([]);
    reads.lastMatchGate.open();
    await settle();
    // Its last match is `late`: the replay sends it; the live copy (at or below it) is dropped.
    expect(sink.ids).toEqual([earlier, late]);
    const next = results.store();
    source.republish(next);
    await settle();
    expect(sink.ids).toEqual([earlier, late, next]);
    feed.stop();
  });

  it("an event stored while the replay is being sent comes once, in order, after the replay", async () => {
    const { results, source, reads, feed } = await setUp();
    const missed = results.storeMany(10);
    source.republish(...missed);
    reads.pageGate = new Gate();
    const { sink, replayed } = await open(feed, reads, { from: { kind: "earliest" } });
    await settle();
    expect(reads.calls).toEqual(["lastMatch", "replay 1..10"]);
    // The replay is under way (its last is 10); two more events are stored, and come live.
    const late = results.storeMany(2);
    source.republish(...late);
    await settle();
    expect(sink.ids).toEqual([]);
    reads.pageGate.open();
    await settle();
    expect(replayed()).toBe(true);
    expect(sink.ids).toEqual([...missed, ...late]);
    feed.stop();
  });

  it("an event at or below the resume id is never sent, even live (an id the client got from a notifier further ahead)", async () => {
    const { results, source, reads, feed } = await setUp({ before: 3 }); // this feed starts after 3
    const [four, five] = results.storeMany(2); // stored, not yet come to this notifier live
    const { sink } = await open(feed, reads, { from: { kind: "after", seq: five! } });
    await settle();
    // The id is above what this feed has seen: the bounds say it is one of RESULTS' ids.
    expect(reads.calls).toEqual(["bounds", "lastMatch"]);
    source.republish(four!, five!); // now they come live
    await settle();
    expect(sink.ids).toEqual([]);
    const six = results.store();
    source.republish(six);
    await settle();
    expect(sink.got).toEqual(["retry 1000", six]);
    feed.stop();
  });

  it("an event at or below the resume id is never sent, even one stored after the last match was read (an id from elsewhere)", async () => {
    const { results, source, reads, feed } = await setUp({ before: 3 });
    reads.boundsGate = new Gate();
    const { sink } = await open(feed, reads, { from: { kind: "after", seq: 5 } });
    await settle();
    // The last match (3) is read; before the bounds are, events 4 and 5 are stored.
    expect(reads.calls).toEqual(["bounds", "lastMatch"]);
    const [four, five] = results.storeMany(2);
    reads.boundsGate.open();
    await settle();
    // 5 is one of RESULTS' ids now: no gap, nothing to replay (the last match is below the id).
    expect(reads.calls).toEqual(["bounds", "lastMatch"]);
    source.republish(four!, five!);
    const six = results.store();
    source.republish(six);
    await settle();
    expect(sink.got).toEqual(["retry 1000", six]);
    feed.stop();
  });

  it("a hole in sequence is held: an event above it waits, through the end of the replay, until the hole is filled", async () => {
    const { results, source, reads, feed } = await setUp();
    const missed = results.storeMany(3);
    source.republish(...missed);
    reads.pageGate = new Gate();
    const { sink, replayed } = await open(feed, reads, { from: { kind: "earliest" } });
    await settle();
    const [late1, late2] = results.storeMany(2);
    source.republish(late2!); // late1 has not come yet
    reads.pageGate.open();
    await settle();
    expect(replayed()).toBe(true);
    expect(sink.ids).toEqual(missed); // late2 is not sent before late1
    source.republish(late1!);
    await settle();
    expect(sink.ids).toEqual([...missed, late1, late2]);
    feed.stop();
  });
});

describe("EventStream: the send buffer", () => {
  it("cuts off a client that stops reading once the events waiting for it pass sendBufferBytes, counted in UTF-8 bytes", async () => {
    const { results, source, reads, feed } = await setUp();
    // Multi-byte data: each event is ~2.5 times as many UTF-8 bytes as UTF-16 code units.
    const [writing, waiting1, waiting2] = results.storeMany(3, { data: "€".repeat(200) });
    const { json } = results.stored[writing! - 1]!;
    const bytes = Buffer.byteLength(json);
    expect(bytes).toBeGreaterThan(2 * json.length);
    const sink = new FakeSink();
    // Two events waiting are more bytes than the buffer holds, though fewer code units than it.
    const { ends } = await open(feed, reads, { sink, sendBufferBytes: 2 * bytes - 1 });
    sink.full = new Gate(); // the client stops reading
    source.republish(writing!); // written; the socket is full from here on
    source.republish(waiting1!); // one waiting: within the buffer
    await settle();
    expect(ends).toEqual([]);
    source.republish(waiting2!); // two waiting: past it
    await settle();
    expect(ends).toEqual(["slow_client"]);
    expect(sink.destroyed).toBe(true);
    expect(sink.ids).toEqual([writing]);
    feed.stop();
  });
});
