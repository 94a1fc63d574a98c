export { publishEvent } from "./publishEvent.ts";
export { readLastEvent, readFirstEvent, readResultsMessage, decodeStoredEvent, type StoredEvent, type ReadFrom } from "./readJobEvents.ts";
export { EventFencedError, AlreadyTerminalError } from "./errors.ts";
