export { publishEvent } from "./publishEvent.ts";
export { readLastEvent, readFirstEvent, decodeStoredEvent, type StoredEvent, type ReadFrom } from "./readJobEvents.ts";
export { EventFencedError, AlreadyTerminalError } from "./errors.ts";
