import { isTimeLimit, type JobError, type JobMessage } from "../../libs/contracts/mod.ts";

/**
 * How long one attempt at `job` may run, in milliseconds, or null for no limit: the shorter of the
 * job's own limit (its JOBS message's `timeoutMs`) and its type's (`defineJob({ timeout })`, as
 * this worker's registry has it). The API refuses a job limit above its type's, but the type may
 * have been given a shorter one since the job was queued, or the message published around the API:
 * the shorter one wins either way. A `timeoutMs` that is not a time limit is ignored.
 */
export function attemptTimeLimitMs(job: JobMessage, typeLimitMs: number | null): number | null {
  const own = isTimeLimit(job.timeoutMs) ? job.timeoutMs : null;
  if (own === null) return typeLimitMs;
  return typeLimitMs === null ? own : Math.min(own, typeLimitMs);
}

/** An attempt ran past its time limit: what its `retrying` or `failed` event says (error code `timeout`). */
export class AttemptTimedOutError extends Error {
  readonly code = "timeout";
  readonly limitMs: number;
  constructor(limitMs: number) {
    super(`the attempt ran past its time limit of ${formatLimit(limitMs)}`);
    this.name = "AttemptTimedOutError";
    this.limitMs = limitMs;
  }

  toJobError(): JobError {
    return { code: this.code, message: this.message };
  }
}

/** `300ms`, `10s`, `5m`, `2h`, `1d`: the largest unit that divides it, as a person would write the limit. */
function formatLimit(ms: number): string {
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1_000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
