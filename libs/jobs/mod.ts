export { defineJob, PermanentJobError, type JobType, type JobContext, type JobAbortReason } from "./types.ts";
export { createJobRegistry, loadJobTypes, JobTypeDefinitionError, type JobRegistry } from "./registry.ts";
export { BUILTIN_JOB_TYPES } from "./builtin.ts";
export { Type } from "@sinclair/typebox";
