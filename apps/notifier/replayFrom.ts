// The replay reads RESULTS, so it lives with the event log (libs/results/readEventsFrom.ts); the
// notifier's names for it stay here.
export { readEventsFrom as replayFrom, ReplayStalledError, type RawEvent } from "../../libs/results/mod.ts";
