/**
 * herald's client library: submit, status, cancel, and event streams that resume across
 * disconnects with nothing missed or repeated. The same code in Node 20+ and in browsers.
 */
export { createClient, registerClient, type HeraldClient } from "./client.ts";
export { HeraldHttpError, HeraldAuthError, HeraldNotFoundError, HeraldConnectionError } from "./errors.ts";
export type {
  ClientOptions,
  EventsOptions,
  StreamItem,
  ConnectionState,
  SubmitOptions,
  JobsOptions,
  StatusOptions,
  WaitOptions,
  WaitForEndOptions,
} from "./types.ts";
export type {
  ClientIdentity,
  CurrentClient,
  GapNotice,
  JobError,
  JobEvent,
  JobEventName,
  JobList,
  JobProgress,
  JobState,
  JobStatus,
  JobTypeInfo,
  SubmittedJob,
} from "../contracts/mod.ts";
export { isTerminal, JOB_EVENTS, JOB_STATUSES, jobStatus, statusOf } from "../contracts/mod.ts";
