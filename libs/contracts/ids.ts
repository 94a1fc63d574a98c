/**
 * Identifiers that end up in NATS subjects. Anything that could change a subject's shape
 * ('.', '*', '>', whitespace) is rejected here, before it reaches NATS.
 */

/** A client id: a herald-issued ULID or the host application's own user id. */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** A job id: a ULID (Crockford base32, 26 chars, first char 0-7). */
export const JOB_ID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

/** A job type name: one lowercase subject token. */
export const JOB_TYPE_PATTERN = /^[a-z][a-z0-9_-]{0,63}$/;

export function isClientId(value: unknown): value is string {
  return typeof value === "string" && CLIENT_ID_PATTERN.test(value);
}

export function isJobId(value: unknown): value is string {
  return typeof value === "string" && JOB_ID_PATTERN.test(value);
}

export function isJobTypeName(value: unknown): value is string {
  return typeof value === "string" && JOB_TYPE_PATTERN.test(value);
}
