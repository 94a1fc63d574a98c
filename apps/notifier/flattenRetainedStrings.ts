import type { FastifyReply } from "fastify";
import { pino } from "pino";

/**
 * A V8 memory workaround for idle event streams, called once a stream is under way.
 *
 * Node keeps the head it wrote for a response (`res._header`) as long as the response lasts, in the
 * shape V8 built it: a tree of ~70 string pieces, one per concatenation, ~2.3 KB for herald's
 * headers; the request logger's bindings are a smaller such tree. Reading a character makes V8
 * flatten a string in place into one piece (~0.7 KB here) and drop the tree. Only reads: nothing
 * changes but the memory an idle stream holds (tens of thousands of them are held at once).
 */
export function flattenRetainedStrings(reply: FastifyReply): void {
  const head = (reply.raw as unknown as { _header?: unknown })._header;
  if (typeof head === "string" && head.length > 0) head.charCodeAt(0);
  const bindings = (reply.log as unknown as Record<symbol, unknown>)[pino.symbols.chindingsSym];
  if (typeof bindings === "string" && bindings.length > 0) bindings.charCodeAt(0);
}
