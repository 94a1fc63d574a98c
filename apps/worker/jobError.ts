import type { JobError } from "../../libs/contracts/mod.ts";
import { PermanentJobError } from "../../libs/jobs/mod.ts";

/** What a job's events say of an error its handler threw. */
export function toJobError(err: unknown): JobError {
  if (err instanceof PermanentJobError) return { code: err.code, message: err.message };
  const message = err instanceof Error ? err.message : String(err);
  return { code: "handler_error", message: message.slice(0, 4_000) };
}
