// The grammar herald's environment variables use (`250ms`, `30s`, `5m`, `24h`, `7d`, or bare
// milliseconds): one grammar for every duration a person writes, in a variable or in a request.
// duration.ts is a leaf module (no imports), so the browser bundle stays as small as before.
import { parseDuration } from "../config/duration.ts";

/**
 * A duration field of a request body (`timeout`, and `delay` to come) in milliseconds, or null
 * when it is not one. A string is read with the configuration's grammar (`"30s"`, `"5m"`,
 * `"250ms"`, `"1500"`); a number is milliseconds. Zero is a duration (a `delay` of 0 is "now");
 * a field that must be positive checks that itself. Fractions of a millisecond are rounded, as the
 * grammar rounds them. Anything else (a negative number, NaN, Infinity, another type, a string
 * outside the grammar, a value past Number.MAX_SAFE_INTEGER) is null.
 */
export function parseRequestDuration(value: unknown): number | null {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) return null;
    const ms = Math.round(value);
    return Number.isSafeInteger(ms) ? ms : null;
  }
  if (typeof value !== "string" || value.length > 64) return null;
  const ms = parseDuration(value);
  return ms !== null && Number.isSafeInteger(ms) ? ms : null;
}
