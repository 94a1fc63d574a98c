import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import { RESULTS_STREAM } from "../contracts/mod.ts";
import type { ReadFrom } from "./types.ts";

/**
 * One stored message of RESULTS: the last one on a subject (`last_by_subj`), or the first on or
 * after `seq` (`next_by_subj`); wildcard subjects work on every supported server. Null if none.
 */
export async function readResultsMessage(
  jsm: JetStreamManager,
  from: ReadFrom,
  query: { last_by_subj: string } | { seq: number; next_by_subj: string },
): Promise<StoredMsg | null> {
  return from === "leader"
    ? jsm.streams.getMessage(RESULTS_STREAM, query as Parameters<JetStreamManager["streams"]["getMessage"]>[1])
    : jsm.direct.getMessage(RESULTS_STREAM, query);
}
