export { defineJob, PermanentJobError, type JobType, type JobContext, type JobAbortReason } from "./types.ts";
export {
  createJobRegistry,
  loadJobTypes,
  JobTypeDefinitionError,
  MAX_TYPE_CONCURRENCY,
  type JobRegistry,
  type TypeCap,
} from "./registry.ts";
export { BUILTIN_JOB_TYPES } from "./builtin.ts";
export { Type } from "@sinclair/typebox";
