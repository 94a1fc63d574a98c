/** The longest a GET /v1/jobs/:id may wait for its job to end, in seconds. */
export const MAX_WAIT_SECONDS = 60;

/** How long a status request asked to wait for its job to end. */
export interface RequestedWait {
  seconds: number;
  /** Asked with `Prefer: wait=` (RFC 7240): the answer says `Preference-Applied: wait=<seconds>`. */
  preferred: boolean;
}

// One preference of a Prefer header: `wait=10`, `wait="10"`, with parameters after `;` ignored.
const WAIT_PREFERENCE = /^\s*wait\s*=\s*(?:"(\d+)"|(\d+))\s*(?:;.*)?$/i;

/**
 * The wait a status request asks for: `?wait=<seconds>` (already a number from 0 to 60: the route's
 * schema refuses anything else with 400 `invalid_wait`), else `Prefer: wait=<seconds>`; null for
 * none. `?wait=` wins. A Prefer header is a preference, not a demand (RFC 7240, section 2): one
 * that cannot be read is ignored, and one above the limit gets the limit (and says so in
 * Preference-Applied), where the same in `?wait=` is a 400.
 */
export function requestedWait(query: number | undefined, prefer: string | string[] | undefined): RequestedWait | null {
  if (query !== undefined) return { seconds: query, preferred: false };
  const header = Array.isArray(prefer) ? prefer.join(",") : prefer;
  if (!header) return null;
  for (const preference of header.split(",")) {
    const m = WAIT_PREFERENCE.exec(preference);
    if (m) return { seconds: Math.min(Number(m[1] ?? m[2]), MAX_WAIT_SECONDS), preferred: true };
  }
  return null;
}
