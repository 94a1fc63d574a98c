// libs/results is the RESULTS event log: the api, the worker, the notifier and the queue read and
// write it only through these functions.
export { appendEvent } from "./appendEvent.ts";
export { readLastEvent, readFirstEvent, readFenceBase, readJobNow } from "./jobEventReads.ts";
export { readLastMatch, readResultsBounds, readEventAt } from "./streamReads.ts";
export { readEventsFrom } from "./readEventsFrom.ts";
export { EventFencedError, AlreadyTerminalError, ReplayStalledError, isFencedOut } from "./errors.ts";
export type { StoredEvent, RawEvent, ResultsBounds, ReadFrom } from "./types.ts";
