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
