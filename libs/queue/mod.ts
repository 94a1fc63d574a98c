export { enqueueJob, QueueFullError, TooManyQueuedJobsError } from "./enqueueJob.ts";
export {
  publishDeadLetter,
  readDeadLetters,
  listDeadLetters,
  resubmitDeadLetter,
  resubmitDeadLetters,
  type ResubmitOutcome,
  type StoredDeadLetter,
} from "./deadLetters.ts";
