import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";

/**
 * The messages of `stream` on `filter` that were stored when the read began, oldest first, one
 * request each. `next_by_subj` steps over the gaps that deleted messages leave; messages stored
 * after the read began are not read, so a loop that stores while it reads (a resend that fails
 * again) ends. For streams read by operators' tools (dead letters), not for hot paths.
 */
export async function* readStoredMessages(
  jsm: JetStreamManager,
  stream: string,
  filter: string,
): AsyncGenerator<StoredMsg> {
  const { state } = await jsm.streams.info(stream);
  for (let seq = state.first_seq; seq <= state.last_seq; ) {
    // next_by_subj is a MsgRequest the server has long answered, missing from nats.js's type.
    const query = { seq, next_by_subj: filter } as unknown as Parameters<JetStreamManager["streams"]["getMessage"]>[1];
    const m = await jsm.streams.getMessage(stream, query);
    if (!m || m.seq > state.last_seq) return;
    yield m;
    seq = m.seq + 1;
  }
}
