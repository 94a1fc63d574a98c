export { enqueueJob, QueueFullError, TooManyQueuedJobsError, type EnqueueDeps } from "./enqueueJob.ts";
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
export { listTypeConsumers, type TypeConsumerState } from "./typeConsumers.ts";
