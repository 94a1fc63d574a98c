import { AckPolicy, DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { RESULTS_STREAM } from "../../libs/contracts/mod.ts";

/** One stored event as the notifier forwards it: its sequence and the envelope's JSON text. */
export interface RawEvent {
  seq: number;
  json: string;
}

const NS_PER_MS = 1_000_000;

/**
 * The stored events matching `filter` with sequences from `fromSeq` to `toSeq`, in order, read in
 * pages of `pageSize` through a short-lived consumer: 100,000 missed events replay with at most two
 * pages in memory, and the consumer is deleted when the replay ends (or is abandoned).
 */
export async function* replayFrom(
  js: JetStreamClient,
  jsm: JetStreamManager,
  filter: string,
  fromSeq: number,
  toSeq: number,
  pageSize = 512,
): AsyncGenerator<RawEvent> {
  if (fromSeq > toSeq) return;
  // The consumer is created by the stream leader, so it sees every stored event (a direct get
  // could be answered by a replica that lags behind and miss the first one). It also tells how
  // many events match: most reconnects have nothing to replay, and then it is deleted at once.
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
    if (info.num_pending === 0) return;
    // From the info just returned: `consumers.get` would ask for it again, and nats-server 2.9
    // counts the consumer's pending messages anew for that (a scan: ~0.1 s on a 1M-message stream).
    const consumer = js.consumers.getConsumerFromInfo(info);
    const pull = () => consumer.fetch({ max_messages: pageSize, expires: 5_000 });
    next = pull();
    for (;;) {
      const page: ConsumerMessages = await next;
      // Ask for the following page now: nats-server serves a consumer's pulls in order, so it
      // arrives while this one is being sent (no round trip between pages), and at most two pages
      // are held.
      next = pull();
      let received = 0;
      for await (const m of page) {
        received++;
        if (m.seq > toSeq) return;
        yield { seq: m.seq, json: m.string() };
        if (m.seq === toSeq || m.info.pending === 0) return;
      }
      if (received === 0) return;
    }
  } finally {
    void next?.then((page) => page.stop()).catch(() => undefined);
    await jsm.consumers.delete(RESULTS_STREAM, info.name).catch(() => undefined);
  }
}
