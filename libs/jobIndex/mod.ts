// libs/jobIndex is JOBINDEX, each client's jobs by ordinal: the only code that writes or reads it.
// The design: docs/design.md, "Listing jobs".
export { indexJob, JobIndexContendedError } from "./indexJob.ts";
export { readJobIndexHead, readJobIndexEntry } from "./readJobIndex.ts";
export type { JobIndexEntry, JobIndexHead } from "./types.ts";
