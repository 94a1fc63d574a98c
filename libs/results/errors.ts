/**
 * Another writer stored an event for this job after the one this writer last saw: a cancel, or a
 * newer attempt of the same job. The sequence is a fencing token; whoever gets this has lost and stops.
 */
export class EventFencedError extends Error {
  readonly jobId: string;
  constructor(jobId: string, expectedLastSeq: number, opts?: ErrorOptions) {
    super(`job ${jobId}: another event was stored after sequence ${expectedLastSeq}`, opts);
    this.name = "EventFencedError";
    this.jobId = jobId;
  }
}

/** A terminal event was answered as a duplicate: the job had already ended (exactly one terminal). */
export class AlreadyTerminalError extends Error {
  readonly jobId: string;
  constructor(jobId: string) {
    super(`job ${jobId} already has its terminal event`);
    this.name = "AlreadyTerminalError";
    this.jobId = jobId;
  }
}

/**
 * A replay's consumer stopped delivering events the stream leader holds. The notifier ends the
 * stream with an error; the client reconnects with its last id and the next replay goes on from there.
 */
export class ReplayStalledError extends Error {
  readonly filter: string;
  constructor(filter: string, lastSeen: number, target: number) {
    super(`replay of ${filter} stalled after sequence ${lastSeen}, short of ${target}`);
    this.name = "ReplayStalledError";
    this.filter = filter;
  }
}

/** True when a write lost to another writer (fenced out, or the job already has its terminal event). */
export function isFencedOut(err: unknown): err is EventFencedError | AlreadyTerminalError {
  return err instanceof EventFencedError || err instanceof AlreadyTerminalError;
}
