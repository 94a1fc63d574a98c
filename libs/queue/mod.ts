export { enqueueJob, QueueFullError, TooManyQueuedJobsError } from "./enqueueJob.ts";
export { publishDeadLetter, listDeadLetters, resubmitDeadLetter, type StoredDeadLetter } from "./deadLetters.ts";
