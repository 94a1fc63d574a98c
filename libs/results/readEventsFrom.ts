import {
  AckPolicy,
  DeliverPolicy,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import { RESULTS_STREAM } from "../contracts/mod.ts";
import { ReplayStalledError } from "./errors.ts";
import { readResultsMessage } from "./resultsMessage.ts";
import type { RawEvent } from "./types.ts";

const NS_PER_MS = 1_000_000;
/** How long one pull waits for its page. */
const PAGE_WAIT_MS = 5_000;
/** Empty pages in a row, while the leader holds more to send, before a replay gives up. */
const MAX_EMPTY_PAGES = 3;

/** Missed events read one by one from the leader before a replay turns to a consumer. */
const DIRECT_READS = 16;

/**
 * The stored events matching `filter` (a job's subject, or a client's filter) with sequences from
 * `fromSeq` to `lastSeq`, in order: the notifier's replay of what a client missed.
 * `lastSeq` is the last event matching `filter`, read (from the stream leader) after the stream
 * could receive live events: where the replay ends is decided by that sequence, never by a count
 * the server reports (nats-server 2.9.10's file store undercounted a wildcard filter's pending
 * messages: issue 13, notifier.test.ts "many mid-stream resumes").
 *
 * A client that missed a few events gets them by `next_by_subj` reads from the leader, one round
 * trip each and no consumer. Past DIRECT_READS it pages through a short-lived consumer: 100,000
 * missed events replay with at most two pages in memory, and the consumer is deleted when the
 * replay ends (or is abandoned).
 * The design: docs/design.md, "Reading RESULTS".
 */
export async function* readEventsFrom(
  js: JetStreamClient,
  jsm: JetStreamManager,
  filter: string,
  fromSeq: number,
  lastSeq: number,
  pageSize = 512,
): AsyncGenerator<RawEvent> {
  let next = Math.max(1, fromSeq);
  for (let i = 0; i < DIRECT_READS; i++) {
    if (next > lastSeq) return;
    const m = await readResultsMessage(jsm, "leader", { seq: next, next_by_subj: filter });
    if (!m || m.seq > lastSeq) return;
    yield { seq: m.seq, json: m.string() };
    next = m.seq + 1;
  }
  if (next > lastSeq) return;
  yield* pageFrom(js, jsm, filter, next, lastSeq, pageSize);
}

/** The rest of a long replay, through a consumer (see readEventsFrom). */
async function* pageFrom(
  js: JetStreamClient,
  jsm: JetStreamManager,
  filter: string,
  fromSeq: number,
  target: number,
  pageSize: number,
): AsyncGenerator<RawEvent> {
  // An R1 memory consumer: cheap, and gone with its last pull. On an R3 stream the server places
  // it on any of the stream's peers, not necessarily the leader; a peer that lags delivers late,
  // and the empty-page check below tells late from nothing.
  const info = await jsm.consumers.add(RESULTS_STREAM, {
    filter_subject: filter,
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: Math.max(1, fromSeq),
    ack_policy: AckPolicy.None,
    mem_storage: true,
    num_replicas: 1,
    // If this process dies mid-replay, the server removes the consumer by itself.
    inactive_threshold: 30_000 * NS_PER_MS,
  });
  let next: Promise<ConsumerMessages> | null = null;
  try {
    // From the info just returned: `consumers.get` would ask the server for it again (a cheap
    // request since 2.10; 2.9 counted the pending messages anew for it, a scan).
    const consumer = js.consumers.getConsumerFromInfo(info);
    const pull = () => consumer.fetch({ max_messages: pageSize, expires: PAGE_WAIT_MS });
    next = pull();
    let lastSeen = fromSeq - 1;
    let emptyPages = 0;
    for (;;) {
      const page: ConsumerMessages = await next;
      // Ask for the following page now: nats-server serves a consumer's pulls in order, so it
      // arrives while this one is being sent (no round trip between pages), and at most two pages
      // are held.
      next = pull();
      let received = 0;
      for await (const m of page) {
        received++;
        lastSeen = m.seq;
        if (m.seq > target) return;
        yield { seq: m.seq, json: m.string() };
        if (m.seq >= target) return;
      }
      if (received > 0) {
        emptyPages = 0;
        continue;
      }
      // A page expired empty before the target. Either what remained was removed meanwhile
      // (max_age, a purge), or the consumer lives on a replica that lags: nats-server places an R1
      // consumer of an R3 stream on any peer, not on the leader. The leader tells which.
      const more = await readResultsMessage(jsm, "leader", { seq: lastSeen + 1, next_by_subj: filter });
      if (!more || more.seq > target) return;
      if (++emptyPages >= MAX_EMPTY_PAGES) throw new ReplayStalledError(filter, lastSeen, target);
    }
  } finally {
    void next?.then((page) => page.stop()).catch(() => undefined);
    await jsm.consumers.delete(RESULTS_STREAM, info.name).catch(() => undefined);
  }
}
