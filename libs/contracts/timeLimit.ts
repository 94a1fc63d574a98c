/**
 * The longest time limit a job type or a job may have: 24 days. A worker arms the limit with
 * setTimeout, whose delay is a signed 32-bit count of milliseconds (about 24.8 days); a longer one
 * would fire at once. (A job that needs longer should have no limit.)
 */
export const MAX_TIME_LIMIT_MS = 24 * 86_400_000;

/** Whether `ms` can be a time limit: a whole number of milliseconds, above 0, at most MAX_TIME_LIMIT_MS. */
export function isTimeLimit(ms: unknown): ms is number {
  return typeof ms === "number" && Number.isSafeInteger(ms) && ms > 0 && ms <= MAX_TIME_LIMIT_MS;
}
