import type { Logger } from "pino";

/** Who gets a client's live events: an event stream. */
export interface LiveListener {
  /** One live event of this listener's client, always in sequence order (never one below the last). */
  onLive(seq: number, jobId: string, json: string): void;
  /**
   * The feed lost its place (NATS went down, or a hole it could not fill): the stream must end, and
   * its client resumes from its last id (which is safe: everything below it was delivered).
   */
  onFeedLost(): void;
}

/** What the feed reads from: the republished live messages, and RESULTS itself (from its leader). */
export interface LiveSource {
  /**
   * Delivers every live message (`live.<client>.<job>`, its RESULTS sequence, its data read only
   * when wanted) to `onMessage`, from now until the returned function is called.
   */
  subscribe(onMessage: (subject: string, seq: number, data: () => string) => void): () => void;
  /** RESULTS' last sequence, read after the subscription exists (the leader answers). */
  lastSeq(): Promise<number>;
  /** The message stored at `seq` (`results.<client>.<job>`), from the leader; null if there is none. */
  readSeq(seq: number): Promise<{ subject: string; json: string } | null>;
}

export interface LiveFeedOptions {
  /** How long a hole may wait for its late message before the feed reads it from RESULTS. */
  holeWaitMs?: number;
  /** A hole still unfilled after this long (RESULTS unreachable): every stream resumes instead. */
  holeGiveUpMs?: number;
  /** Messages held above a hole, at most; past it every stream resumes instead (memory bound). */
  maxHeld?: number;
  /** Clients whose last event the feed remembers (the least recently active are forgotten first). */
  maxTracked?: number;
}

/**
 * The notifier's one subscription to every live event (`live.>`), handed to the streams of each
 * client in RESULTS sequence order, with nothing skipped.
 *
 * One subscription rather than one per stream: 19,000 clients coming back at once cost the server
 * no subscription churn and the notifier no round trip to subscribe (a stream registers here,
 * synchronously, and everything stored after that reaches it). The price: every notifier receives
 * every event, and drops those of clients it does not serve (a map lookup; the data is not even
 * decoded). That bounds one herald deployment's event rate by what one notifier can read (far above
 * what the workers produce here: docs/benchmarks.md), not its connections.
 *
 * In order, provably: RESULTS numbers its messages 1, 2, 3, … with no gaps, and republishes each
 * (nothing in RESULTS is outside `results.>`), so the feed knows the next sequence it must see. A
 * message above it is held until the ones below arrive; a hole not filled within `holeWaitMs` is
 * read from the stream leader (a message stored but never republished — an old leader's last, say —
 * is found; one removed meanwhile is skipped, as a replay would). So a stream is never given an event
 * below one it has sent, an SSE `id:` is a cursor (every event of the client up to it has been
 * sent), and a client resuming after it misses nothing. nats-server ≥ 2.10 republishes in order, so
 * holes are rare (2.9 reordered two messages now and then under load); the feed does not rely on it.
 * The design: docs/design.md, "The live feed".
 */
export class LiveFeed {
  #source: LiveSource;
  #log: Logger;
  #holeWaitMs: number;
  #holeGiveUpMs: number;
  #maxHeld: number;
  #listeners = new Map<string, LiveListener | LiveListener[]>();
  #unsubscribe: (() => void) | null = null;
  /** The next sequence to hand out; 0 while not ready (starting, or NATS down). */
  #next = 0;
  /** Messages that came above a hole (or before the start was read), by sequence. */
  #held = new Map<number, { subject: string; data: () => string }>();
  /** Fill holes up to here even if nothing above them was held (a tail check after a leader change). */
  #fillTo = 0;
  #holeTimer: NodeJS.Timeout | null = null;
  #holeSince = 0;
  #filling = false;
  /** Bumped whenever the feed loses its place: reads started before then are ignored. */
  #epoch = 0;
  #down = true;
  #stopped = false;
  /** The first sequence of the current run: the feed has handed out every event from here on. */
  #since = 0;
  /** Each client's last event handed out this run (any client, served here or not), most recent last. */
  #lastOf = new Map<string, number>();
  #maxTracked: number;
  /** The highest last-event of a client forgotten to bound #lastOf: a bound for any client not in it. */
  #forgottenUpTo = 0;
  /** Events handed to listeners, holes read from RESULTS, holes skipped (gone), resets. */
  readonly counts = { delivered: 0, filled: 0, skipped: 0, resets: 0 };

  constructor(source: LiveSource, log: Logger, o: LiveFeedOptions = {}) {
    this.#source = source;
    this.#log = log;
    this.#holeWaitMs = o.holeWaitMs ?? 100;
    this.#holeGiveUpMs = o.holeGiveUpMs ?? 5_000;
    this.#maxHeld = o.maxHeld ?? 50_000;
    this.#maxTracked = o.maxTracked ?? 100_000;
  }

  /** Subscribes, then reads where the stream ends; resolves once the feed is ready. */
  async start(): Promise<void> {
    this.#unsubscribe = this.#source.subscribe((subject, seq, data) => this.#onMessage(subject, seq, data));
    this.#down = false;
    await this.#init();
  }

  /** True once every event past `watermark` will reach the streams registered from now on. */
  get ready(): boolean {
    return this.#next > 0 && !this.#down;
  }

  /**
   * The last sequence handed out: a stream registered now gets every live event above it, and none
   * at or below it.
   */
  get watermark(): number {
    return this.#next - 1;
  }

  /**
   * Whether a client whose last event id is `afterSeq` has missed nothing up to the watermark, known
   * without reading RESULTS: every event since the feed's start passed through it, and it remembers
   * each client's last one. True only when `afterSeq` lies within this run (from the feed's start to
   * the watermark) and the client's last event is at or below it; false means "read RESULTS to
   * know". Asked at the moment a stream registers, so that together with the live events that come
   * after, nothing is missed. A notifier that has been up since its clients' ids resumes them after
   * a storm with no NATS request at all.
   */
  missedNothing(clientId: string, afterSeq: number): boolean {
    if (!this.ready || afterSeq < this.#since - 1 || afterSeq > this.watermark) return false;
    return (this.#lastOf.get(clientId) ?? this.#forgottenUpTo) <= afterSeq;
  }

  add(clientId: string, l: LiveListener): void {
    const cur = this.#listeners.get(clientId);
    // One listener is kept as it is (most clients hold one stream): no array per client.
    if (!cur) this.#listeners.set(clientId, l);
    else if (Array.isArray(cur)) cur.push(l);
    else this.#listeners.set(clientId, [cur, l]);
  }

  remove(clientId: string, l: LiveListener): void {
    const cur = this.#listeners.get(clientId);
    if (cur === l) this.#listeners.delete(clientId);
    else if (Array.isArray(cur)) {
      const rest = cur.filter((x) => x !== l);
      if (rest.length === 0) this.#listeners.delete(clientId);
      else this.#listeners.set(clientId, rest.length === 1 ? rest[0]! : rest);
    }
  }

  /** NATS is down: live events are being missed, so every stream ends (and resumes later). */
  down(): void {
    if (this.#down) return;
    this.#down = true;
    this.#lose("NATS disconnected");
  }

  /** NATS is back (the client library has resubscribed): read where the stream ends, then serve. */
  up(): void {
    if (!this.#down || this.#stopped || !this.#unsubscribe) return;
    this.#down = false;
    void this.#init();
  }

  /**
   * Checks for messages stored but never republished at the end of the stream (a RESULTS leader
   * change: the old leader may have stored some that nothing republished): anything up to the
   * stream's last sequence that has not come within `holeWaitMs` is read from the new leader.
   */
  async checkTail(): Promise<void> {
    if (!this.ready) return;
    const epoch = this.#epoch;
    try {
      const last = await this.#source.lastSeq();
      if (epoch !== this.#epoch || last < this.#next) return;
      if (last - this.#next >= this.#maxHeld)
        return this.#lose(`${last - this.#next + 1} events behind after a leader change`);
      this.#fillTo = Math.max(this.#fillTo, last);
      this.#armHole();
    } catch (err) {
      this.#log.warn({ err }, "live feed: could not read RESULTS' end after a leader change");
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#down = true;
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#clearHole();
    this.#held.clear();
    this.#next = 0;
  }

  async #init(): Promise<void> {
    const epoch = ++this.#epoch;
    for (let attempt = 0; !this.#down && !this.#stopped; attempt++) {
      try {
        const last = await this.#source.lastSeq();
        if (epoch !== this.#epoch || this.#down) return;
        // Held messages at or below the start are history: a stream registered from now on reads
        // them from RESULTS. The ones above are live, and go out in order.
        for (const seq of this.#held.keys()) if (seq <= last) this.#held.delete(seq);
        this.#next = last + 1;
        this.#since = this.#next;
        this.#log.info({ next: this.#next }, "live feed ready");
        this.#advance();
        return;
      } catch (err) {
        if (epoch !== this.#epoch) return;
        if (attempt % 10 === 0) this.#log.warn({ err }, "live feed: could not read RESULTS' end; retrying");
        await new Promise((r) => setTimeout(r, 500).unref());
      }
    }
  }

  #onMessage(subject: string, seq: number, data: () => string): void {
    if (this.#down || !(seq > 0)) return;
    if (this.#next === 0 || seq > this.#next) {
      // Starting (the end of the stream is being read), or above a hole: held until it is filled.
      if (this.#held.size >= this.#maxHeld) {
        this.#lose(`more than ${this.#maxHeld} events held above a hole`);
        return;
      }
      this.#held.set(seq, { subject, data });
      if (this.#next > 0) this.#armHole();
      return;
    }
    if (seq < this.#next) return; // delivered already (read to fill a hole), or history
    this.#deliver(subject, seq, data);
    this.#next++;
    this.#advance();
  }

  /** Hands out the held messages that are next in line. */
  #advance(): void {
    for (let m = this.#held.get(this.#next); m; m = this.#held.get(this.#next)) {
      this.#held.delete(this.#next);
      this.#deliver(m.subject, this.#next, m.data);
      this.#next++;
    }
    if (this.#held.size === 0 && this.#next > this.#fillTo) this.#clearHole();
    else this.#armHole();
  }

  #deliver(subject: string, seq: number, data: () => string): void {
    // `live.<client>.<job>` or `results.<client>.<job>` (a message read to fill a hole).
    const a = subject.indexOf(".");
    const b = subject.indexOf(".", a + 1);
    if (a < 0 || b < 0) return;
    const clientId = subject.slice(a + 1, b);
    this.#remember(clientId, seq);
    const l = this.#listeners.get(clientId);
    if (!l) return;
    const jobId = subject.slice(b + 1);
    const json = data();
    this.counts.delivered++;
    if (Array.isArray(l)) for (const x of [...l]) x.onLive(seq, jobId, json);
    else l.onLive(seq, jobId, json);
  }

  /** Notes a client's latest event; past maxTracked, the least recently active client is forgotten. */
  #remember(clientId: string, seq: number): void {
    // Deleted and set again: a Map keeps insertion order, so the first entry is the least recent.
    if (!this.#lastOf.delete(clientId) && this.#lastOf.size >= this.#maxTracked) {
      const [oldest, oldestSeq] = this.#lastOf.entries().next().value!;
      this.#lastOf.delete(oldest);
      this.#forgottenUpTo = Math.max(this.#forgottenUpTo, oldestSeq);
    }
    this.#lastOf.set(clientId, seq);
  }

  #armHole(): void {
    if (this.#holeTimer || this.#filling || this.#next === 0) return;
    if (this.#held.size === 0 && this.#next > this.#fillTo) return;
    if (this.#holeSince === 0) this.#holeSince = Date.now();
    this.#holeTimer = setTimeout(() => {
      this.#holeTimer = null;
      void this.#fill();
    }, this.#holeWaitMs);
    this.#holeTimer.unref();
  }

  #clearHole(): void {
    if (this.#holeTimer) clearTimeout(this.#holeTimer);
    this.#holeTimer = null;
    this.#holeSince = 0;
  }

  /** Reads the missing messages from the stream leader, in order, until nothing is missing. */
  async #fill(): Promise<void> {
    const epoch = this.#epoch;
    this.#filling = true;
    try {
      while (
        epoch === this.#epoch &&
        this.#next > 0 &&
        !this.#held.has(this.#next) &&
        (this.#held.size > 0 || this.#next <= this.#fillTo)
      ) {
        const seq = this.#next;
        const m = await this.#source.readSeq(seq);
        // Meanwhile the late message may have come, or the feed lost its place: then this read is moot.
        if (epoch !== this.#epoch || this.#next !== seq) continue;
        if (m) {
          this.counts.filled++;
          this.#log.warn({ seq }, "live feed: a live event did not come in order; read it from RESULTS");
          this.#deliver(m.subject, seq, () => m.json);
        } else {
          this.counts.skipped++; // removed from RESULTS meanwhile (max age, a purge): a replay would skip it too
        }
        this.#next++;
        this.#advance();
      }
    } catch (err) {
      if (epoch === this.#epoch) {
        if (Date.now() - this.#holeSince > this.#holeGiveUpMs) {
          this.#filling = false;
          return this.#lose(`could not read sequence ${this.#next} from RESULTS: ${(err as Error).message}`);
        }
        this.#log.warn({ err, seq: this.#next }, "live feed: could not read a missing event; retrying");
      }
    } finally {
      if (epoch === this.#epoch) this.#filling = false;
    }
    if (epoch === this.#epoch) {
      if (this.#held.size === 0 && this.#next > this.#fillTo) this.#clearHole();
      else this.#armHole();
    }
  }

  /**
   * The feed cannot say what comes next any more: every stream ends (its client resumes from its
   * last id, below anything not delivered), and the feed starts over from the stream's end.
   */
  #lose(why: string): void {
    this.#epoch++;
    this.counts.resets++;
    this.#log.warn({ why, streams: this.#listeners.size }, "live feed lost its place; every event stream resumes");
    this.#clearHole();
    this.#filling = false;
    this.#held.clear();
    this.#fillTo = 0;
    this.#next = 0;
    // Events may pass unseen until the next start: what it knew of clients' last events is void.
    this.#lastOf.clear();
    this.#forgottenUpTo = 0;
    const all = [...this.#listeners.values()].flat();
    for (const l of all) l.onFeedLost();
    if (!this.#down && !this.#stopped) void this.#init();
  }
}
