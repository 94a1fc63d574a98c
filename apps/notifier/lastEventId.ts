import type { FastifyRequest } from "fastify";
import { InvalidInputError } from "../../libs/contracts/mod.ts";

/** Where a stream starts: live only, everything retained, or after a given RESULTS sequence. */
export type ResumeFrom = { kind: "live" } | { kind: "earliest" } | { kind: "after"; seq: number };

/** Every stream that starts live shares this one (each stream keeps its start: no object each). */
const LIVE: ResumeFrom = Object.freeze({ kind: "live" });

/**
 * The resume point of an event stream request: the `Last-Event-ID` header, else `?lastEventId=`.
 * The header wins: EventSource keeps the URL it was opened with (query included) and sends the
 * newer id in the header when it reconnects. A malformed value is a 400, never a silent restart.
 * The design: docs/design.md, "Resume".
 */
export function resumeFrom(request: FastifyRequest): ResumeFrom {
  const header = request.headers["last-event-id"];
  const query = (request.query as Record<string, unknown> | undefined)?.lastEventId;
  const raw = typeof header === "string" ? header : typeof query === "string" ? query : undefined;
  if (raw === undefined || raw === "") return LIVE;
  const value = raw.trim();
  if (value === "earliest") return { kind: "earliest" };
  if (/^\d{1,16}$/.test(value) && Number.isSafeInteger(Number(value))) return { kind: "after", seq: Number(value) };
  throw new InvalidInputError(
    "Last-Event-ID must be an event id (a non-negative integer) or `earliest`",
    "invalid_last_event_id",
  );
}
