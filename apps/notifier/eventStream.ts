import type { Logger } from "pino";
import { clientResultsFilter, eventNameOf, isTerminal, resultSubject } from "../../libs/contracts/mod.ts";
import type { ResumeFrom } from "./lastEventId.ts";
import type { LiveFeed, LiveListener } from "./liveFeed.ts";
import type { RawEvent } from "../../libs/results/mod.ts";
import type { ResumeReads } from "./resumeReads.ts";
import type { EventSink, Frame } from "./sink.ts";
import type { GapNotice } from "../../libs/contracts/mod.ts";

/** A live event waiting to be sent, with its size in bytes (what it takes of the send buffer). */
interface WaitingEvent extends RawEvent {
  bytes: number;
}

export type StreamEnd = "client_closed" | "job_ended" | "slow_client" | "shutdown" | "nats_unavailable" | "error";

export interface EventStreamOptions {
  /** Every live event, in sequence order; the stream registers there for its client's. */
  feed: LiveFeed;
  reads: ResumeReads;
  clientId: string;
  /** One job's stream (ends after its terminal event), or all of the client's events. */
  jobId?: string;
  from: ResumeFrom;
  sink: EventSink;
  retryMs: number;
  /** Bytes (UTF-8, as written to the socket) of live events waiting for a slow client before it is cut off. */
  sendBufferBytes: number;
  log: Logger;
  /** Called once when the replay is over (caught up, or the stream ended first). */
  onReplayed?: () => void;
}

/**
 * One client's event stream: replay what it missed, then live events, with nothing lost or
 * repeated whatever the timing (docs/design.md, "Resume", "The replay that loses nothing"):
 *
 * 1. register with the live feed (synchronous: from here on every live event of the client above
 *    the feed's watermark reaches this stream), buffering what arrives;
 * 2. read the client's last stored event L (from the leader) and replay its events after the
 *    client's id up to L;
 * 3. send the buffered live events above L, then each live event as it comes.
 *
 * Every event the client can miss is either ≤ L (replayed) or stored after L was read, hence after
 * the stream registered (live). A stream with nothing to resume (no Last-Event-ID) reads nothing at
 * all: it starts at the feed's watermark; nor does a resume the feed can vouch for (the client's id
 * lies within the feed's run and no event of the client has passed since: LiveFeed.missedNothing).
 * The feed hands out events in sequence order (it holds one
 * above a hole until the hole is filled), so ids only increase, and `id:` is a cursor: every event
 * of the client up to it has been sent, and a client resuming after it misses nothing.
 *
 * The live buffer is the per-connection send buffer: past `sendBufferBytes` the client is cut off
 * (its reconnect replays from its last id), so a client that stops reading cannot grow memory.
 *
 * Memory: one notifier holds tens of thousands of idle streams, so an idle stream is kept to plain
 * fields. Once the replay is done no async function stays suspended and no promise is pending per
 * stream: a live event starts a short drain (#drain) that returns when the buffer is empty, and
 * whoever sees the end last (end() itself when the stream is idle, else the replay or the drain)
 * releases everything (#finish). Buffers are allocated on first use.
 */
export class EventStream implements LiveListener {
  readonly clientId: string;
  readonly jobId: string | undefined;
  /** Which of the hub's heartbeat slices this stream is in (set by the Hub). */
  heartbeatSlot = 0;
  /** Whom the hub tells when this stream has ended (set by the Hub). */
  hubDone: ((end: StreamEnd, stream: EventStream) => void) | undefined = undefined;
  #o: EventStreamOptions;
  #registered = false;
  #onEnd: ((end: StreamEnd, stream: EventStream) => void) | null = null;
  /** Resolves start()'s promise: the first frame is out, or the stream is over. */
  #underway: (() => void) | null = null;
  /** Live events waiting to be sent (null while empty: most streams are idle). */
  #live: WaitingEvent[] | null = null;
  #liveBytes = 0;
  /** The replay or a drain is running: it finishes the stream when it sees the end. */
  #busy = false;
  /** Makes a send blocked on a full socket give up when the stream ends. */
  #abortSend: (() => void) | null = null;
  #end: StreamEnd | null = null;
  #finished = false;
  #replayed = 0;
  #sent = 0;
  /** The client's id: where it started, then the highest id sent. */
  #lastEventId = 0;
  /** Live events at or below this were replayed (or came before the stream registered). */
  #replayedThrough = 0;
  /** The feed's watermark when the stream registered: every live event above it comes here. */
  #registeredAt = 0;
  /** Whether the stream reads RESULTS before going live (decided as it registers: readsResults). */
  #readsResults = false;

  constructor(o: EventStreamOptions) {
    this.#o = o;
    this.clientId = o.clientId;
    this.jobId = o.jobId;
  }

  /** Ends the stream (idempotent). The first reason given is the one reported. */
  end(reason: StreamEnd): void {
    if (this.#end) return;
    this.#end = reason;
    this.#abortSend?.();
    if (!this.#busy) this.#finish();
  }

  /**
   * Ends the stream for a notifier that is stopping: its last frame lowers the client's reconnect
   * delay to `retryMs` (the hub staggers the ends, so a short delay does not make a storm).
   */
  leave(retryMs: number): void {
    if (this.#end) return;
    void this.#o.sink.send({ retry: retryMs }).catch(() => undefined);
    this.end("shutdown");
  }

  /** LiveListener: the feed lost its place (NATS down, or a hole it could not fill). */
  onFeedLost(): void {
    this.end("nats_unavailable");
  }

  /** Events sent from RESULTS (a replay), as opposed to live. */
  get replayed(): number {
    return this.#replayed;
  }

  /**
   * Starts the stream; `onEnd` is called once (with the stream: one function can serve every
   * stream, no closure each), after it has ended and released its subscription and connection. The
   * promise resolves as soon as the stream is under way (its first frame is written) or over: the
   * request handler need not stay suspended for the stream's lifetime.
   */
  start(onEnd: (end: StreamEnd, stream: EventStream) => void): Promise<void> {
    const { feed, clientId, sink } = this.#o;
    this.#onEnd = onEnd;
    this.#busy = true;
    // Step 1, synchronously: live events above the watermark come to this stream from now on.
    this.#registeredAt = feed.watermark;
    this.#readsResults = readsResults(feed, clientId, this.#o.from, this.jobId);
    feed.add(clientId, this);
    this.#registered = true;
    sink.onGone(this);
    const underway = new Promise<void>((resolve) => (this.#underway = resolve));
    void this.#replay();
    return underway;
  }

  /** Step 2: the first frame, then the replay; then live events (or the end). */
  async #replay(): Promise<void> {
    const { reads, clientId, jobId, from } = this.#o;
    this.#lastEventId = from.kind === "after" ? from.seq : 0;
    this.#replayedThrough = this.#registeredAt;
    try {
      await this.#send({ retry: this.#o.retryMs });
      this.#markUnderway();
      if (this.#readsResults) {
        const filter = jobId ? resultSubject(clientId, jobId) : clientResultsFilter(clientId);
        // A resume after an id may also need the stream's bounds (below); that read is shared by
        // the streams opening together, and made at the same time as the client's own: one round
        // trip either way.
        const bounds = from.kind === "after" ? reads.bounds() : null;
        bounds?.catch(() => undefined); // not always awaited: its failure must not go unhandled
        const last = await reads.lastMatch(filter);
        let start = 1;
        if (from.kind === "after") {
          start = from.seq + 1;
          // The id is known without the bounds when the feed has handed it out, and a client whose
          // last stored event is at or below its id missed nothing. Otherwise the bounds tell an id
          // from elsewhere (the stream was reset, or the id is made up) and events expired since.
          if (from.seq > this.#registeredAt || last === null || last > from.seq) {
            const { first, last: end } = await bounds!;
            if (from.seq > end) {
              // Not an id of this stream: catch up on everything retained rather than wait for
              // ids that may never come.
              await this.#send(gapFrame("unknown_id", from.seq, first));
              this.#lastEventId = 0;
              start = first;
            } else if (from.seq + 1 < first) {
              await this.#send(gapFrame("expired", from.seq, first));
              start = first;
            }
          }
        }
        if (last !== null && last >= start && !this.#end) {
          for await (const ev of reads.replay(filter, start, last)) {
            if (this.#end) break;
            if (ev.seq <= this.#lastEventId) continue;
            await this.#sendEvent(ev);
            this.#lastEventId = ev.seq;
            this.#replayed++;
          }
        }
        this.#replayedThrough = Math.max(this.#replayedThrough, last ?? 0);
      }
    } catch (err) {
      this.#failed(err);
    }
    this.#o.onReplayed?.();
    this.#busy = false;
    if (this.#end) this.#finish();
    else if (this.#live) void this.#drain();
  }

  /** Step 3: sends the buffered live events, then returns (the next live event starts it again). */
  async #drain(): Promise<void> {
    this.#busy = true;
    try {
      for (let ev = this.#live?.shift(); ev && !this.#end; ev = this.#live?.shift()) {
        this.#liveBytes -= ev.bytes;
        if (this.#live!.length === 0) this.#live = null;
        // Replayed already: the feed's order means nothing else is at or below the last id.
        if (ev.seq <= this.#replayedThrough || ev.seq <= this.#lastEventId) continue;
        await this.#sendEvent(ev);
        this.#lastEventId = ev.seq;
      }
    } catch (err) {
      this.#failed(err);
    }
    this.#busy = false;
    if (this.#end) this.#finish();
  }

  #failed(err: unknown): void {
    if (this.#end) return;
    const { log, clientId, jobId } = this.#o;
    log.warn({ err, clientId, jobId }, "event stream failed");
    this.end("error");
  }

  #markUnderway(): void {
    this.#underway?.();
    this.#underway = null;
  }

  /** Releases the subscription and the connection, once, after the end; then tells the owner. */
  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    const { sink, log, clientId, jobId, feed } = this.#o;
    if (this.#registered) feed.remove(clientId, this);
    this.#registered = false;
    this.#live = null;
    this.#liveBytes = 0;
    if (this.#end === "slow_client") sink.destroy();
    else sink.close();
    log.info(
      { clientId, jobId, end: this.#end, replayed: this.#replayed, sent: this.#sent, lastEventId: this.#lastEventId },
      "event stream ended",
    );
    this.#markUnderway();
    const onEnd = this.#onEnd;
    this.#onEnd = null;
    onEnd?.(this.#end!, this);
  }

  /** LiveListener: one of the client's live events, in sequence order. */
  onLive(seq: number, jobId: string, json: string): void {
    if (this.#end || (this.jobId && jobId !== this.jobId)) return;
    // Bytes as the socket will take them (UTF-8), not `json.length` (UTF-16 code units):
    // SSE_SEND_BUFFER_BYTES is a byte count, and text outside ASCII is up to 3 bytes a code unit.
    const bytes = Buffer.byteLength(json);
    (this.#live ??= []).push({ seq, json, bytes });
    this.#liveBytes += bytes;
    if (this.#liveBytes > this.#o.sendBufferBytes) {
      this.#o.log.warn(
        { clientId: this.clientId, bufferedBytes: this.#liveBytes },
        "client is not reading; disconnecting",
      );
      this.end("slow_client");
      return;
    }
    // While the replay runs, live events wait; it drains them when it is done.
    if (!this.#busy) void this.#drain();
  }

  async #sendEvent(ev: RawEvent): Promise<void> {
    const name = eventNameOf(ev.json);
    if (!name) return; // not an envelope: nothing a client can use
    await this.#writeEvent(ev.seq, name, ev.json);
    this.#sent++;
    if (this.jobId && isTerminal(name)) this.end("job_ended");
  }

  /** Writes an event's frame; waits only when the socket is full, and gives up if the stream ends. */
  async #writeEvent(seq: number, name: string, json: string): Promise<void> {
    if (this.#end) return;
    if (!this.#o.sink.writeEvent(seq, name, json)) await this.#untilEnd(this.#o.sink.drained());
  }

  /** Sends a frame, or gives up as soon as the stream ends (a full socket never pins the stream). */
  async #send(frame: Frame): Promise<void> {
    if (this.#end) return;
    await this.#untilEnd(this.#o.sink.send(frame));
  }

  /** Waits for `p`, or only until the stream ends (end() resolves it through #abortSend). */
  async #untilEnd(p: Promise<void>): Promise<void> {
    try {
      await new Promise<void>((resolve, reject) => {
        this.#abortSend = resolve;
        p.then(resolve, reject);
      });
    } finally {
      this.#abortSend = null;
    }
  }

  /** A heartbeat comment, from the hub's shared timer. */
  heartbeat(): void {
    if (!this.#end) this.#o.sink.heartbeat();
  }
}

/**
 * Whether a stream starting `from` must read RESULTS before going live. Not one that starts live,
 * nor a resume the feed can vouch for (no event of the client has passed since its id:
 * LiveFeed.missedNothing); a job's stream always reads (it starts at the job's first event). Asked
 * by the plugin to decide whether the stream waits for an admission slot, and again by the stream
 * as it registers, which is the answer that counts.
 */
export function readsResults(feed: LiveFeed, clientId: string, from: ResumeFrom, jobId: string | undefined): boolean {
  if (jobId !== undefined) return true;
  if (from.kind === "live") return false;
  return !(from.kind === "after" && feed.missedNothing(clientId, from.seq));
}

function gapFrame(reason: GapNotice["reason"], lastEventId: number, firstAvailable: number): Frame {
  const notice: GapNotice = { reason, lastEventId, firstAvailable };
  return { event: "gap", data: JSON.stringify(notice) };
}
