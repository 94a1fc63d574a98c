import type { JetStreamManager } from "@nats-io/jetstream";
import { RESULTS_STREAM } from "../contracts/mod.ts";
import { readResultsMessage } from "./resultsMessage.ts";
import type { RawEvent, ResultsBounds } from "./types.ts";

// Reads of RESULTS as a whole, across jobs and clients: what the notifier's resume and live feed ask.

/** The sequence of the last stored event matching `filter` (from the leader), or null if none. */
export async function readLastMatch(jsm: JetStreamManager, filter: string): Promise<number | null> {
  return (await readResultsMessage(jsm, "leader", { last_by_subj: filter }))?.seq ?? null;
}

/** RESULTS' first and last sequence now (the stream leader's state). */
export async function readResultsBounds(jsm: JetStreamManager): Promise<ResultsBounds> {
  const { state } = await jsm.streams.info(RESULTS_STREAM);
  return { first: Math.max(1, state.first_seq), last: state.last_seq };
}

/** The event stored at `seq`, with its subject, from the leader; null if none is (any more). */
export async function readEventAt(
  jsm: JetStreamManager,
  seq: number,
): Promise<(RawEvent & { subject: string }) | null> {
  const m = await jsm.streams.getMessage(RESULTS_STREAM, { seq });
  return m ? { seq: m.seq, subject: m.subject, json: m.string() } : null;
}
