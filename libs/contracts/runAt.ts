import { parseRequestDuration } from "./requestDuration.ts";
import { InvalidInputError } from "./errors.ts";

/**
 * How far in the past a `runAt` may be and still be taken (it then runs at once): a client's clock
 * a little behind the server's, or a request that took a moment, is not an error. Further back is
 * a mistake worth a 400 (a date from yesterday, a time zone left off).
 */
export const RUN_AT_PAST_TOLERANCE_MS = 5_000;

// RFC 3339 date-time (section 5.6), with its zone: Date.parse alone takes far more (and a time
// without a zone as local time, which is never what an API caller meant).
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/** What a submit says about when to run: `runAt` (RFC 3339) or `delay` (`"30s"`, `"5m"`, or milliseconds). */
export interface ScheduleInput {
  runAt?: unknown;
  delay?: unknown;
}

/**
 * When a submitted job is due, as an ISO-8601 time (ms), or null when it gave neither `runAt` nor
 * `delay` (it runs now). A time at or before `nowMs` also runs now (enqueueJob decides where it goes);
 * the job's `queued` event carries it either way.
 * Throws InvalidInputError (400) with a code per mistake: both given (`run_at_and_delay`), a
 * `runAt` that is not RFC 3339 (`invalid_run_at`) or is more than RUN_AT_PAST_TOLERANCE_MS in the
 * past (`run_at_in_past`), a `delay` that is not a duration (`invalid_delay`), or either past
 * `maxDelayMs` from now (`schedule_too_far`: JOB_MAX_DELAY).
 * The design: docs/design.md, "Scheduled jobs".
 */
export function resolveRunAt(input: ScheduleInput, nowMs: number, maxDelayMs: number): string | null {
  const { runAt, delay } = input;
  if (runAt !== undefined && delay !== undefined) {
    throw new InvalidInputError("give `runAt` or `delay`, not both", "run_at_and_delay");
  }
  let dueMs: number;
  if (runAt !== undefined) {
    const parsed = typeof runAt === "string" && RFC3339.test(runAt) ? Date.parse(runAt) : Number.NaN;
    if (Number.isNaN(parsed)) {
      throw new InvalidInputError(
        "`runAt` must be an RFC 3339 time with its zone, like 2026-12-01T09:30:00Z",
        "invalid_run_at",
      );
    }
    if (parsed < nowMs - RUN_AT_PAST_TOLERANCE_MS) {
      throw new InvalidInputError(
        `\`runAt\` ${runAt} is in the past (more than ${RUN_AT_PAST_TOLERANCE_MS / 1000} s ago)`,
        "run_at_in_past",
      );
    }
    dueMs = parsed;
  } else if (delay !== undefined) {
    // A request's durations are all read by parseRequestDuration (the configuration's grammar, a
    // JSON number meaning milliseconds), as `timeout` is.
    const parsed = parseRequestDuration(delay);
    if (parsed === null) {
      throw new InvalidInputError('`delay` must be a duration like "30s", "5m", "2h" or milliseconds', "invalid_delay");
    }
    dueMs = nowMs + parsed;
  } else {
    return null;
  }
  if (dueMs - nowMs > maxDelayMs) {
    throw new InvalidInputError(
      `a job can be scheduled at most ${Math.floor(maxDelayMs / 1000)} s ahead (JOB_MAX_DELAY)`,
      "schedule_too_far",
    );
  }
  return new Date(dueMs).toISOString();
}
