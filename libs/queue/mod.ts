export { enqueueJob, QueueFullError, TooManyQueuedJobsError } from "./enqueueJob.ts";
export {
  publishDeadLetter,
  listDeadLetters,
  readDeadLetters,
  resubmitDeadLetter,
  resubmitDeadLetters,
  type ResubmitOutcome,
  type StoredDeadLetter,
} from "./deadLetters.ts";
export { moveDueJob } from "./moveDueJob.ts";
