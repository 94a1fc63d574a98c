import type { NatsConnection } from "@nats-io/transport-node";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { LIVE_PREFIX } from "../../libs/contracts/mod.ts";
import {
  readEventAt,
  readEventsFrom,
  readLastMatch,
  readResultsBounds,
  type RawEvent,
  type ResultsBounds,
} from "../../libs/results/mod.ts";
import type { LiveSource } from "./liveFeed.ts";

/** Where RESULTS starts and ends now. */
export type StreamBounds = ResultsBounds;

/**
 * What a resuming stream reads from RESULTS, each from the stream leader (a replica may lag, and a
 * stale answer here would be a skipped event). One small seam: the stream logic does not know NATS.
 * The design: docs/design.md, "Reading RESULTS", "Leader reads".
 */
export interface ResumeReads {
  /** The sequence of the last stored event matching `filter`, or null if there is none. */
  lastMatch(filter: string): Promise<number | null>;
  /**
   * RESULTS' first and last sequence. Streams that ask in the same moment share one request: it is
   * sent on the next turn of the event loop, and a stream that asks after it went out waits for the
   * next one (its answer must be read after that stream registered for live events).
   */
  bounds(): Promise<StreamBounds>;
  /** The events matching `filter` from `fromSeq` through `lastSeq` (a last match), in order. */
  replay(filter: string, fromSeq: number, lastSeq: number): AsyncIterable<RawEvent>;
}

export function natsResumeReads(js: JetStreamClient, jsm: JetStreamManager): ResumeReads {
  let batch: Promise<StreamBounds> | null = null;
  return {
    lastMatch(filter) {
      return readLastMatch(jsm, filter);
    },
    bounds() {
      batch ??= new Promise<void>((r) => setImmediate(r)).then(() => {
        batch = null; // from here on, a caller gets a read sent after it asked
        return readResultsBounds(jsm);
      });
      return batch;
    },
    replay(filter, fromSeq, lastSeq) {
      return readEventsFrom(js, jsm, filter, fromSeq, lastSeq);
    },
  };
}

/** The live feed's source: one subscription to `live.>`, and RESULTS read from its leader. */
export function natsLiveSource(nc: NatsConnection, jsm: JetStreamManager): LiveSource {
  return {
    subscribe(onMessage) {
      const sub = nc.subscribe(`${LIVE_PREFIX}.>`, {
        callback: (err, m) => {
          if (err) return;
          onMessage(m.subject, Number(m.headers?.get("Nats-Sequence")), () => m.string());
        },
      });
      return () => sub.unsubscribe();
    },
    async lastSeq() {
      return (await readResultsBounds(jsm)).last;
    },
    async readSeq(seq) {
      const m = await readEventAt(jsm, seq);
      return m ? { subject: m.subject, json: m.json } : null;
    },
  };
}
