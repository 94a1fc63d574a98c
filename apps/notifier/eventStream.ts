import type { NatsConnection, Msg, Subscription } from "@nats-io/transport-node";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import {
  clientResultsFilter,
  eventNameOf,
  isTerminal,
  liveClientFilter,
  liveJobSubject,
  RESULTS_STREAM,
  resultSubject,
} from "../../libs/contracts/mod.ts";
import type { ResumeFrom } from "./lastEventId.ts";
import { replayFrom, type RawEvent } from "./replayFrom.ts";
import type { EventSink, Frame } from "./sink.ts";

export type StreamEnd = "client_closed" | "job_ended" | "slow_client" | "shutdown" | "nats_unavailable" | "resync" | "error";

const LINE_BREAK = /[\r\n]/;

/** How many recently sent (time, id) pairs a stream remembers (at least), for a resync. */
const SENT_HISTORY = 4_096;
/** … forgotten this many at a time. */
const HISTORY_TRIM = 1_024;

export interface EventStreamOptions {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  clientId: string;
  /** One job's stream (ends after its terminal event), or all of the client's events. */
  jobId?: string;
  from: ResumeFrom;
  sink: EventSink;
  retryMs: number;
  /** Bytes of live events waiting for a slow client before it is cut off. */
  sendBufferBytes: number;
  log: Logger;
}

/**
 * One client's event stream: replay what it missed, then live events, with nothing lost or
 * repeated whatever the timing (DESIGN.md, "The replay that loses nothing"):
 *
 * 1. subscribe to the client's live subject first (and flush, so the server has the subscription),
 *    buffering what arrives;
 * 2. read the stream's last sequence S, replay the client's events from L + 1 to S;
 * 3. send the buffered live events above the last one sent, then each live event as it comes.
 *
 * Every event the client can miss is either ≤ S (replayed) or published after the subscription
 * existed (buffered): a live event at or below S was replayed (or is the client's already), one
 * above S is new. Live events come in sequence order: since 2.10, nats-server stores and
 * republishes a stream's messages in one queue, in order (2.9 stored them from each client's
 * connection, and republished two a few ms out of order at 1,000 jobs/s: the benchmark caught
 * it). Should one ever arrive below the last id sent, it is not dropped: the stream resyncs from
 * just before it (see resync), and the client's reconnect replays it.
 *
 * The live buffer is the per-connection send buffer: past `sendBufferBytes` the client is cut off
 * (its reconnect replays from its last id), so a client that stops reading cannot grow memory.
 *
 * Memory: one notifier holds tens of thousands of idle streams, so an idle stream is kept to plain
 * fields. Once the replay is done no async function stays suspended and no promise is pending per
 * stream: a live event starts a short drain (#drain) that returns when the buffer is empty, and
 * whoever sees the end last (end() itself when the stream is idle, else the replay or the drain)
 * releases everything (#finish). Buffers and the sent history are allocated on first use.
 */
export class EventStream {
  readonly clientId: string;
  readonly jobId: string | undefined;
  /** Which of the hub's heartbeat slices this stream is in (set by the Hub). */
  heartbeatSlot = 0;
  #o: EventStreamOptions;
  #sub: Subscription | null = null;
  #onEnd: ((end: StreamEnd) => void) | null = null;
  /** Resolves start()'s promise: the first frame is out, or the stream is over. */
  #underway: (() => void) | null = null;
  /** Live events waiting to be sent (null while empty: most streams are idle). */
  #live: RawEvent[] | null = null;
  #liveBytes = 0;
  /** The replay or a drain is running: it finishes the stream when it sees the end. */
  #busy = false;
  /** Makes a send blocked on a full socket give up when the stream ends. */
  #abortSend: (() => void) | null = null;
  #end: StreamEnd | null = null;
  #finished = false;
  #replayed = 0;
  #sent = 0;
  /** Where this stream started: every event above it is this stream's to deliver. */
  #baseline = 0;
  /** Highest id sent (for resync). */
  #lastSent = 0;
  /** The client's id: where it started, then the highest id sent (logged at the end). */
  #lastEventId = 0;
  /** RESULTS' last sequence when the replay was read: live events at or below it were replayed. */
  #replayedThrough = 0;
  /** Recently sent ids with when they were sent (oldest first), for resync(). */
  #history: { at: number; seq: number }[] | null = null;

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

  get ended(): StreamEnd | null {
    return this.#end;
  }

  /**
   * Ends the stream telling the client to resume from before the last `windowMs`: it sends
   * `event: resync` with `id:` set back to the last id sent before that window (or the stream's
   * start), so that the client's reconnect replays — from the stream leader — every event of the
   * window. Used when the RESULTS leader changes: an event the old leader stored but did not
   * republish live would otherwise be skipped by a client that has already received later ones.
   * Events the client already has come again; clients drop them by id (the client library does).
   */
  async resync(windowMs: number): Promise<void> {
    if (this.#end) return;
    const cutoff = Date.now() - windowMs;
    let resumeFrom = this.#baseline;
    const history = this.#history ?? [];
    for (let i = history.length - 1; i >= 0; i--) {
      if (history[i]!.at < cutoff) {
        resumeFrom = history[i]!.seq;
        break;
      }
    }
    if (resumeFrom >= this.#lastSent) return; // nothing sent inside the window: nothing to redo
    await this.#resyncFrom(resumeFrom);
  }

  /** Ends the stream with a `resync` frame whose id sends the client back to `resumeFrom`. */
  async #resyncFrom(resumeFrom: number): Promise<void> {
    // The frame is written synchronously (sink.send writes before it returns its promise), and the
    // stream ends in the same tick: nothing can be sent after it (its id must be the client's last),
    // and it is out before the end closes the connection.
    const sent = this.#o.sink.send({ id: String(resumeFrom), event: "resync", data: JSON.stringify({ resumeFrom }) }).catch(() => undefined);
    this.end("resync");
    await sent;
  }

  /** Events sent from RESULTS (a replay), as opposed to live. */
  get replayed(): number {
    return this.#replayed;
  }

  /**
   * Starts the stream; `onEnd` is called once, after it has ended and released its subscription
   * and connection. The promise resolves as soon as the stream is under way (its first frame is
   * written) or over: the request handler need not stay suspended for the stream's lifetime.
   */
  start(onEnd: (end: StreamEnd) => void): Promise<void> {
    const { nc, clientId, jobId, sink } = this.#o;
    this.#onEnd = onEnd;
    this.#busy = true;
    this.#sub = nc.subscribe(jobId ? liveJobSubject(clientId, jobId) : liveClientFilter(clientId), {
      callback: (err, m) => {
        if (!err) this.#onLive(m);
      },
    });
    sink.onGone(() => this.end("client_closed"));
    const underway = new Promise<void>((resolve) => (this.#underway = resolve));
    void this.#replay();
    return underway;
  }

  /** Steps 1 and 2: the first frame, then the replay; then live events (or the end). */
  async #replay(): Promise<void> {
    const { nc, jsm, js, clientId, jobId, from } = this.#o;
    this.#lastEventId = from.kind === "after" ? from.seq : 0;
    try {
      await nc.flush();
      await this.#send({ retry: this.#o.retryMs });
      this.#markUnderway();
      const { state } = await jsm.streams.info(RESULTS_STREAM);
      // Live only: everything stored from here on is this stream's to deliver.
      this.#baseline = from.kind === "after" ? from.seq : from.kind === "earliest" || jobId ? 0 : state.last_seq;

      if (from.kind !== "live" || jobId) {
        const firstSeq = Math.max(1, state.first_seq);
        let start = firstSeq;
        if (from.kind === "after") {
          if (from.seq > state.last_seq) {
            // Not an id of this stream (it was reset, or the id is made up): catch up on everything
            // retained rather than wait for ids that may never come.
            await this.#send(gapFrame("unknown_id", from.seq, firstSeq));
            this.#lastEventId = 0;
            this.#baseline = 0;
          } else if (from.seq + 1 < firstSeq) {
            await this.#send(gapFrame("expired", from.seq, firstSeq));
          } else {
            start = from.seq + 1;
          }
        }
        const filter = jobId ? resultSubject(clientId, jobId) : clientResultsFilter(clientId);
        for await (const ev of replayFrom(js, jsm, filter, start, state.last_seq)) {
          if (this.#end) break;
          if (ev.seq <= this.#lastEventId) continue;
          await this.#sendEvent(ev);
          this.#lastEventId = ev.seq;
          this.#replayed++;
        }
      }
      this.#replayedThrough = state.last_seq;
    } catch (err) {
      this.#failed(err);
    }
    this.#busy = false;
    if (this.#end) this.#finish();
    else if (this.#live) void this.#drain();
  }

  /** Step 3: sends the buffered live events, then returns (the next live event starts it again). */
  async #drain(): Promise<void> {
    this.#busy = true;
    try {
      for (let ev = this.#live?.shift(); ev && !this.#end; ev = this.#live?.shift()) {
        this.#liveBytes -= ev.json.length;
        if (this.#live!.length === 0) this.#live = null;
        if (ev.seq <= this.#replayedThrough) continue;
        if (ev.seq <= this.#lastSent) {
          // Out of sequence order: not seen since 2.10 (see the class comment). Not dropped, not
          // sent out of order: the client comes back for it.
          this.#o.log.warn({ clientId: this.clientId, seq: ev.seq, lastSent: this.#lastSent }, "live event out of order; resyncing");
          await this.#resyncFrom(ev.seq - 1);
          break;
        }
        await this.#sendEvent(ev);
        this.#lastEventId = Math.max(this.#lastEventId, ev.seq);
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
    const { sink, log, clientId, jobId } = this.#o;
    this.#sub?.unsubscribe();
    this.#sub = null;
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
    onEnd?.(this.#end!);
  }

  #onLive(m: Msg): void {
    if (this.#end) return;
    const seq = Number(m.headers?.get("Nats-Sequence"));
    if (!Number.isSafeInteger(seq) || seq <= 0) return;
    const json = m.string();
    (this.#live ??= []).push({ seq, json });
    this.#liveBytes += json.length;
    if (this.#liveBytes > this.#o.sendBufferBytes) {
      this.#o.log.warn({ clientId: this.clientId, bufferedBytes: this.#liveBytes }, "client is not reading; disconnecting");
      this.end("slow_client");
      return;
    }
    // While the replay runs, live events wait; it drains them when it is done.
    if (!this.#busy) void this.#drain();
  }

  async #sendEvent(ev: RawEvent): Promise<void> {
    const name = eventNameOf(ev.json);
    if (!name) return; // not an envelope: nothing a client can use
    // The frame as text, written straight to the socket (no frame object, no promise unless the
    // socket is full): a replay writes tens of thousands. Data with a line break (only an envelope
    // herald did not write could have one) goes through send(), which splits it into data: lines.
    if (LINE_BREAK.test(ev.json)) await this.#send({ id: String(ev.seq), event: `job.${name}`, data: ev.json });
    else await this.#write(`id: ${ev.seq}\nevent: job.${name}\ndata: ${ev.json}\n\n`);
    this.#sent++;
    this.#lastSent = Math.max(this.#lastSent, ev.seq);
    const history = (this.#history ??= []);
    history.push({ at: Date.now(), seq: ev.seq });
    // Trimmed a block at a time: removing one entry from the front of a 4,096-entry array moved
    // the other 4,095 for every event sent (a third of a 100,000-event replay's CPU).
    if (history.length >= SENT_HISTORY + HISTORY_TRIM) history.splice(0, HISTORY_TRIM);
    if (this.jobId && isTerminal(name)) this.end("job_ended");
  }

  /** Writes a ready frame; waits only when the socket is full, and gives up if the stream ends. */
  async #write(text: string): Promise<void> {
    if (this.#end) return;
    if (!this.#o.sink.write(text)) await this.#untilEnd(this.#o.sink.drained());
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

function gapFrame(reason: "expired" | "unknown_id", lastEventId: number, firstAvailable: number): Frame {
  return { event: "gap", data: JSON.stringify({ reason, lastEventId, firstAvailable }) };
}
