export * from "./names.ts";
export * from "./ids.ts";
export * from "./subjects.ts";
export * from "./events.ts";
export * from "./status.ts";
export * from "./queueMessages.ts";
export * from "./errors.ts";
export * from "./urls.ts";
export * from "./requestDuration.ts";
export * from "./timeLimit.ts";
export * from "./webhooks.ts";
// Types only: the schemas themselves are TypeBox values, imported from ./schemas.ts by the API
// (see there why they stay out of this file).
export type {
  ClientIdentity,
  CurrentClient,
  ErrorBody,
  GapNotice,
  JobError,
  JobList,
  JobProgress,
  JobState,
  JobTypeInfo,
  SubmitJobRequest,
  SubmittedJob,
} from "./schemas.ts";
