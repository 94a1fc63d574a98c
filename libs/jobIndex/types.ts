/** One job in a client's JOBINDEX: what a list needs to order it and filter it by type without reading its events. */
export interface JobIndexEntry {
  jobId: string;
  type: string;
  /** The job's submittedAt (its `queued` event's `at`). */
  createdAt: string;
}

/** The client's newest ordinal, and the job it was given to. */
export interface JobIndexHead {
  n: number;
  jobId: string;
}
