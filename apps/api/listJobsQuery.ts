import { InvalidInputError, JOB_STATUSES, type JobStatus } from "../../libs/contracts/mod.ts";
import { DEFAULT_JOBS_PER_PAGE, MAX_JOBS_PER_PAGE } from "../../libs/contracts/schemas.ts";

/** GET /v1/jobs's query, read: what listJobs takes. */
export interface ListJobsQuery {
  /** Only these statuses; null for all. */
  statuses: ReadonlySet<JobStatus> | null;
  /** Only this type; null for all. */
  type: string | null;
  limit: number;
  /** The newest ordinal the page may hold (the cursor); null for the client's newest. */
  before: number | null;
}

const CURSOR = /^[1-9][0-9]{0,15}$/;

/**
 * A cursor is the ordinal the next page starts at, base64url-encoded: opaque to clients (who only
 * hand it back), and anything that does not decode to exactly such a cursor is refused.
 */
export function encodeCursor(ordinal: number): string {
  return Buffer.from(String(ordinal)).toString("base64url");
}

/** The ordinal of a cursor this api wrote, or null for anything else. */
export function decodeCursor(cursor: string): number | null {
  if (!/^[A-Za-z0-9_-]{1,24}$/.test(cursor)) return null;
  const text = Buffer.from(cursor, "base64url").toString("latin1");
  if (!CURSOR.test(text) || encodeCursor(Number(text)) !== cursor) return null;
  const ordinal = Number(text);
  return Number.isSafeInteger(ordinal) ? ordinal : null;
}

/** Reads GET /v1/jobs's query; a bad part is a 400 with its own code, before anything is read. */
export function readListJobsQuery(query: { status?: unknown; type?: unknown; limit?: unknown; cursor?: unknown }) {
  return {
    statuses: query.status === undefined ? null : readStatuses(query.status),
    type: query.type === undefined || query.type === "" ? null : String(query.type),
    limit: readLimit(query.limit),
    before: query.cursor === undefined ? null : readCursor(query.cursor),
  } satisfies ListJobsQuery;
}

function readStatuses(value: unknown): ReadonlySet<JobStatus> {
  const names = String(value).split(",");
  const unknown = names.filter((n) => !(JOB_STATUSES as readonly string[]).includes(n));
  if (unknown.length > 0 || names.length === 0) {
    throw new InvalidInputError(
      `unknown status ${JSON.stringify(unknown[0] ?? "")}: status is a comma-separated list of ${JOB_STATUSES.join(", ")}`,
      "invalid_status",
    );
  }
  return new Set(names as JobStatus[]);
}

function readLimit(value: unknown): number {
  if (value === undefined) return DEFAULT_JOBS_PER_PAGE;
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_JOBS_PER_PAGE || (typeof value === "string" && !/^\d+$/.test(value)))
    throw new InvalidInputError(`limit must be a whole number from 1 to ${MAX_JOBS_PER_PAGE}`, "invalid_limit");
  return n;
}

function readCursor(value: unknown): number {
  const ordinal = typeof value === "string" ? decodeCursor(value) : null;
  if (ordinal === null)
    throw new InvalidInputError("cursor must be a nextCursor of GET /v1/jobs, as it was answered", "invalid_cursor");
  return ordinal;
}
