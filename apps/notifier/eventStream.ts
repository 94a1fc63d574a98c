import type { NatsConnection, Msg } from "@nats-io/transport-node";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { Logger } from "pino";
import {
  clientResultsFilter,
  isTerminal,
  liveClientFilter,
  liveJobSubject,
  RESULTS_STREAM,
  resultSubject,
  type JobEventName,
} from "../../libs/contracts/mod.ts";
import type { ResumeFrom } from "./lastEventId.ts";
import { replayFrom, type RawEvent } from "./replayFrom.ts";
import type { EventSink, Frame } from "./sink.ts";

export type StreamEnd = "client_closed" | "job_ended" | "slow_client" | "shutdown" | "nats_unavailable" | "resync" | "error";

/** How many recently sent (time, id) pairs a stream remembers, for a resync. */
const SENT_HISTORY = 4_096;

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
 * above S is new unless this stream has just sent it. Live events are not dropped for being lower
 * than the last id sent: nats-server 2.9 can republish two events a few ms out of sequence order
 * when they were stored from different connections (the benchmark caught it), and a filter on the
 * highest id would lose the late one. Such an event goes out late; the client's next resume may
 * then repeat a few ids, which clients drop by id.
 *
 * The live buffer is the per-connection send buffer: past `sendBufferBytes` the client is cut off
 * (its reconnect replays from its last id), so a client that stops reading cannot grow memory.
 */
export class EventStream {
  readonly clientId: string;
  readonly jobId: string | undefined;
  #o: EventStreamOptions;
  #live: RawEvent[] = [];
  #liveBytes = 0;
  #wake: (() => void) | null = null;
  #end: StreamEnd | null = null;
  #ended: Promise<void>;
  #resolveEnded!: () => void;
  #replayed = 0;
  #sent = 0;
  /** Where this stream started: every event above it is this stream's to deliver. */
  #baseline = 0;
  #lastSent = 0;
  /** Recently sent ids with when they were sent (oldest first), for resync() and the live filter. */
  #history: { at: number; seq: number }[] = [];
  #recent = new Set<number>();

  constructor(o: EventStreamOptions) {
    this.#o = o;
    this.clientId = o.clientId;
    this.jobId = o.jobId;
    this.#ended = new Promise((r) => (this.#resolveEnded = r));
  }

  /** Ends the stream (idempotent). The first reason given is the one reported. */
  end(reason: StreamEnd): void {
    if (this.#end) return;
    this.#end = reason;
    this.#resolveEnded();
    this.#wake?.();
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
    for (let i = this.#history.length - 1; i >= 0; i--) {
      if (this.#history[i]!.at < cutoff) {
        resumeFrom = this.#history[i]!.seq;
        break;
      }
    }
    if (resumeFrom >= this.#lastSent) return; // nothing sent inside the window: nothing to redo
    // End first, so that the stream sends nothing after the resync frame (its id must be the
    // client's last); the frame is written synchronously, before run() closes the connection.
    this.end("resync");
    await this.#o.sink.send({ id: String(resumeFrom), event: "resync", data: JSON.stringify({ resumeFrom }) }).catch(() => undefined);
  }

  /** Events sent from RESULTS (a replay), as opposed to live. */
  get replayed(): number {
    return this.#replayed;
  }

  /** Runs until the stream ends; resolves with why. Always releases the subscription. */
  async run(): Promise<StreamEnd> {
    const { nc, jsm, js, clientId, jobId, from, sink, log } = this.#o;
    const sub = nc.subscribe(jobId ? liveJobSubject(clientId, jobId) : liveClientFilter(clientId), {
      callback: (err, m) => {
        if (!err) this.#onLive(m);
      },
    });
    void sink.gone.then(() => this.end("client_closed"));
    let lastSent = from.kind === "after" ? from.seq : 0;
    try {
      await nc.flush();
      await this.#send({ retry: this.#o.retryMs });
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
            lastSent = 0;
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
          if (ev.seq <= lastSent) continue;
          await this.#sendEvent(ev);
          lastSent = ev.seq;
          this.#replayed++;
        }
      }

      const replayedThrough = state.last_seq;
      while (!this.#end) {
        const ev = this.#live.shift();
        if (!ev) {
          await new Promise<void>((r) => (this.#wake = r));
          this.#wake = null;
          continue;
        }
        this.#liveBytes -= ev.json.length;
        if (ev.seq <= replayedThrough || this.#recent.has(ev.seq)) continue;
        await this.#sendEvent(ev);
        lastSent = Math.max(lastSent, ev.seq);
      }
    } catch (err) {
      if (!this.#end) {
        log.warn({ err, clientId, jobId }, "event stream failed");
        this.end("error");
      }
    } finally {
      sub.unsubscribe();
      this.#live = [];
      this.#liveBytes = 0;
      if (this.#end === "slow_client") sink.destroy();
      else sink.close();
    }
    log.info(
      { clientId, jobId, end: this.#end, replayed: this.#replayed, sent: this.#sent, lastEventId: lastSent },
      "event stream ended",
    );
    return this.#end!;
  }

  #onLive(m: Msg): void {
    if (this.#end) return;
    const seq = Number(m.headers?.get("Nats-Sequence"));
    if (!Number.isSafeInteger(seq) || seq <= 0) return;
    const json = m.string();
    this.#live.push({ seq, json });
    this.#liveBytes += json.length;
    if (this.#liveBytes > this.#o.sendBufferBytes) {
      this.#o.log.warn({ clientId: this.clientId, bufferedBytes: this.#liveBytes }, "client is not reading; disconnecting");
      this.end("slow_client");
      return;
    }
    this.#wake?.();
  }

  async #sendEvent(ev: RawEvent): Promise<void> {
    let name: JobEventName;
    try {
      name = (JSON.parse(ev.json) as { event: JobEventName }).event;
    } catch {
      return; // not an envelope: nothing a client can use
    }
    await this.#send({ id: String(ev.seq), event: `job.${name}`, data: ev.json });
    this.#sent++;
    this.#lastSent = Math.max(this.#lastSent, ev.seq);
    this.#history.push({ at: Date.now(), seq: ev.seq });
    this.#recent.add(ev.seq);
    if (this.#history.length > SENT_HISTORY) {
      for (const old of this.#history.splice(0, this.#history.length - SENT_HISTORY)) this.#recent.delete(old.seq);
    }
    if (this.jobId && isTerminal(name)) this.end("job_ended");
  }

  /** Sends a frame, or gives up as soon as the stream ends (a full socket never pins the stream). */
  async #send(frame: Frame): Promise<void> {
    if (this.#end) return;
    await Promise.race([this.#o.sink.send(frame), this.#ended]);
  }
}

function gapFrame(reason: "expired" | "unknown_id", lastEventId: number, firstAvailable: number): Frame {
  return { event: "gap", data: JSON.stringify({ reason, lastEventId, firstAvailable }) };
}
