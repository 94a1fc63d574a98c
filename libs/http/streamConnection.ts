import { createRequire } from "node:module";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { FastifyReply } from "fastify";

/**
 * Node's own release of a connection's HTTP parser: what it does when a connection is upgraded
 * (WebSocket), and when any connection closes. Null where it is not to be had (a legacy module,
 * documented as deprecated since Node.js 24): then the parser stays.
 */
const freeParser = ((): ((parser: unknown, req: unknown, socket: unknown) => void) | null => {
  try {
    const f = (createRequire(import.meta.url)("node:_http_common") as { freeParser?: unknown }).freeParser;
    return typeof f === "function" ? (f as (parser: unknown, req: unknown, socket: unknown) => void) : null;
  } catch {
    return null;
  }
})();

/** What Node hangs on a server connection's socket (the fields read here). */
interface HttpSocket extends Socket {
  parser?: { incoming?: unknown } | null;
  _httpMessage?: unknown;
  server?: { httpAllowHalfOpen?: boolean };
}

/**
 * Sheds what a request keeps once it has become an endless stream (an event stream whose head is
 * out): what Node keeps on its connection for requests that will never come, and what the request's
 * handling needed but the stream does not. Tens of thousands of idle streams each held all of it.
 * Only memory changes while the stream lasts; its end closes the connection (below).
 *
 * Measured with heap snapshots of a notifier holding 2,000 idle streams, bench scenario 4 (19,000)
 * and a bare Node server holding 10,000:
 * - the HTTP parser: Node keeps one per connection for its next request (keep-alive): ~2 KB of
 *   native memory (llhttp's state, and room for 32 header fields and values), its JS side and the
 *   bound functions that reach it: ~2.4–3.4 KB of RSS per stream. Freed as Node frees it for an
 *   upgraded connection: back to Node's pool. Nothing can read a next request then, so the response
 *   now ends its connection (`_last`, as a `Connection: close` response does) instead of keeping it
 *   alive; a client sending anything more is disconnected (behind a stream that never ends, a
 *   pipelined request was never answered anyway); a client half-closing is answered as Node does
 *   (this side ends too).
 * - the response headers as set (`getHeaders()`): Node keeps them after writing them, ~0.9 KB of
 *   heap for an event stream's. The head as written (`_header`) stays.
 * - the request headers, parsed and raw (~0.5 KB with the client's token), the parsed query and
 *   cookies, and the cookie plugin's map of cookies to set (~0.2 KB, empty): read or written while
 *   the request was handled (credentials, Last-Event-ID, Accept), never after its head is out.
 *
 * Deferred to the next turn of the event loop: the stream may have been started from within the
 * parser's own callback, and Node frees a parser only once its stack has unwound. Anything
 * unexpected (the response over, the request not complete, another request behind it, a Node.js
 * whose internals differ) and that part stays as it is.
 */
export function shedIdleStreamState(reply: FastifyReply): void {
  setImmediate(shed, reply);
}

function shed(reply: FastifyReply): void {
  const res = reply.raw;
  const socket = res.socket as HttpSocket | null;
  if (!socket || socket.destroyed || socket._httpMessage !== res || !res.headersSent || res.writableEnded) return;
  const req = res.req;
  if (!req.complete) return;
  dropOutHeaders(res);
  dropRequestHeaders(req);
  const request = reply.request as unknown as { query?: unknown; cookies?: unknown };
  request.query = NOTHING;
  if (request.cookies) request.cookies = NOTHING;
  dropCookiesToSet(reply);
  releaseParser(socket, req, res);
}

function releaseParser(socket: HttpSocket, req: IncomingMessage, res: ServerResponse): void {
  const parser = socket.parser;
  if (!freeParser || !parser || parser.incoming !== req || socket.server?.httpAllowHalfOpen) return;
  // The listeners Node registered for this connection, bound to its parser.
  const onData = socket.listeners("data").find((f) => f.name === "bound socketOnData");
  const onEnd = socket.listeners("end").find((f) => f.name === "bound socketOnEnd");
  if (!onData || !onEnd) return;
  socket.removeListener("data", onData as (...args: unknown[]) => void);
  socket.removeListener("end", onEnd as (...args: unknown[]) => void);
  // What reads from the socket while the parser has it (Node removes them for an upgrade too).
  for (const [event, name] of [
    ["pause", "onSocketPause"],
    ["resume", "onSocketResume"],
  ] as const) {
    const f = socket.listeners(event).find((l) => l.name === name);
    if (f) socket.removeListener(event, f as (...args: unknown[]) => void);
  }
  freeParser(parser, req, socket);
  // Node's wrappers of on/addListener/prependListener only matter while a parser reads the socket
  // (they put these back themselves on their next call once it is gone): three closures less.
  const proto = Object.getPrototypeOf(socket) as Socket;
  socket.on = proto.on;
  socket.addListener = proto.addListener;
  socket.prependListener = proto.prependListener;
  socket.on("data", unexpectedData);
  socket.on("end", clientEnded);
  res.shouldKeepAlive = false;
  (res as unknown as { _last: boolean })._last = true;
}

/**
 * Shared by every connection (no closure each): nothing can parse more bytes on it. Empty lines
 * excepted (a client may send a CRLF after its request; HTTP says to ignore it, as llhttp does).
 */
function unexpectedData(this: Socket, chunk: Buffer): void {
  for (const byte of chunk) if (byte !== 0x0d && byte !== 0x0a) return void this.destroy();
}

/** The client half-closed: Node's answer (without httpAllowHalfOpen) is to end this side too. */
function clientEnded(this: Socket): void {
  this.end();
}

/** Shared (frozen) by every shed request: reads find nothing, and nothing is allocated per request. */
const NOTHING: Record<string, never> = Object.freeze(Object.create(null) as Record<string, never>);
const NO_RAW_HEADERS: string[] = Object.freeze([]) as unknown as string[];

/** A symbol of Node's or a plugin's, found by its description on an object that has it. */
const symbols = new Map<string, symbol | null>();
function symbolOf(o: object, description: string): symbol | null {
  let s = symbols.get(description);
  if (s === undefined) {
    s = Object.getOwnPropertySymbols(o).find((x) => x.description === description) ?? null;
    symbols.set(description, s);
  }
  return s;
}

function dropRequestHeaders(req: IncomingMessage): void {
  req.headers = NOTHING;
  req.rawHeaders = NO_RAW_HEADERS;
  req.rawTrailers = NO_RAW_HEADERS;
  // How many raw headers there were: `headersDistinct` would read that many from `rawHeaders`.
  const count = symbolOf(req, "kHeadersCount");
  if (count !== null) (req as unknown as Record<symbol, unknown>)[count] = 0;
  else req.headersDistinct = NOTHING;
}

function dropOutHeaders(res: ServerResponse): void {
  const key = symbolOf(res, "kOutHeaders");
  const r = res as unknown as Record<symbol, unknown>;
  if (key !== null && typeof r[key] === "object") r[key] = null;
}

/** @fastify/cookie's map of the cookies to set with the head: empty, and the head is out. */
function dropCookiesToSet(reply: FastifyReply): void {
  const key = symbolOf(reply, "fastify.reply.setCookies");
  const r = reply as unknown as Record<symbol, unknown>;
  if (key !== null && r[key] instanceof Map && (r[key] as Map<unknown, unknown>).size === 0) r[key] = null;
}
