import type { FastifyReply } from "fastify";
import type { EventSink, Frame, GoneListener } from "./sink.ts";
import { sseEventName, type JobEventName } from "../../libs/contracts/mod.ts";

/**
 * The SSE wire format, all of it, and the sink that writes it to an HTTP response. Everything a
 * client's EventSource parses is written here: the event frame, the `retry:` field, the heartbeat
 * comment and the headers. The stream logic (eventStream.ts) decides what to send; this file
 * decides how it looks on the wire.
 * The design: docs/design.md, "Event streams on the wire".
 */

/** The comment that keeps an idle stream open through proxies (EventSource ignores it). */
const HEARTBEAT = ": heartbeat\n\n";

/** A line break in data: SSE would read it as the end of the `data:` field. */
const LINE_BREAK = /[\r\n]/;

/**
 * A frame in SSE's wire format. Every field that is set is written, `retry: 0` and `id: 0`
 * included (@fastify/sse's own formatter skips falsy ones: a draining notifier's `retry: 0` was
 * lost). Data is split into `data:` lines at line breaks.
 */
export function formatFrame(frame: Frame): string {
  let text = "";
  if (frame.id !== undefined) text += `id: ${frame.id}\n`;
  if (frame.event !== undefined) text += `event: ${frame.event}\n`;
  if (frame.retry !== undefined) text += `retry: ${frame.retry}\n`;
  if (frame.data !== undefined) for (const line of frame.data.split(/\r\n|\r|\n/)) text += `data: ${line}\n`;
  return `${text}\n`;
}

/**
 * A stored event's frame: its RESULTS sequence as `id:` (the client's resume cursor), `job.<event>`
 * as `event:`, the envelope's JSON text as `data:`. Built as one template string, with no frame
 * object: a replay writes tens of thousands. Data with a line break (only an envelope herald did
 * not write could have one) is split into `data:` lines by formatFrame.
 */
export function formatEventFrame(seq: number, event: string, json: string): string {
  if (LINE_BREAK.test(json))
    return formatFrame({ id: String(seq), event: sseEventName(event as JobEventName), data: json });
  return `id: ${seq}\nevent: ${sseEventName(event as JobEventName)}\ndata: ${json}\n\n`;
}

/** The sink a response streams to, for the listeners below (shared by every response). */
const SINK = Symbol("herald.eventSink");
type StreamingResponse = FastifyReply["raw"] & { [SINK]?: SseSink };

/** The response closed: the client is gone, or the stream was ended. */
function responseClosed(this: StreamingResponse): void {
  this[SINK]?.gone();
}

/** An error on the response (a write to a connection that has gone): as gone, logged as @fastify/sse did. */
function responseFailed(this: StreamingResponse, err: Error): void {
  const sink = this[SINK];
  sink?.gone();
  sink?.log.info({ err }, "SSE connection closed");
}

/**
 * An EventSink over the raw response: the SSE headers, then frames written with backpressure, data
 * sent verbatim. A class whose listeners are shared functions, not closures: tens of thousands of
 * idle streams each hold one. (@fastify/sse did this before: its context per request, with two
 * closures on the response and an array of close callbacks, cost ~0.5 KB of heap per idle stream.)
 * Its headers, its end and what it does when the client goes are @fastify/sse's.
 */
export class SseSink implements EventSink {
  readonly #reply: FastifyReply;
  #connected: boolean;
  #headersSent = false;
  #stream: GoneListener | null = null;

  constructor(reply: FastifyReply) {
    this.#reply = reply;
    const raw = reply.raw as StreamingResponse;
    // A client that left while its request was handled: the stream ends as soon as it starts.
    this.#connected = !raw.destroyed;
    raw[SINK] = this;
    raw.on("close", responseClosed);
    raw.on("error", responseFailed);
  }

  get log(): FastifyReply["log"] {
    return this.#reply.log;
  }

  /** The client is gone, or the stream is over: tells the stream (once). */
  gone(): void {
    if (!this.#connected) return;
    this.#connected = false;
    const stream = this.#stream;
    this.#stream = null;
    stream?.end("client_closed");
  }

  /** The head, once: @fastify/sse's headers, then any set on the reply, with the reply's status. */
  #sendHeaders(): void {
    if (this.#headersSent) return;
    const raw = this.#reply.raw;
    raw.setHeader("Content-Type", "text/event-stream");
    raw.setHeader("Cache-Control", "no-cache");
    // keep-alive, as @fastify/sse said (the connection still closes when the stream ends, see
    // shedIdleStreamState): with `close`, undici (fetch) kept a spare connection to the notifier
    // open and unused, and the notifier's close waited for it (the test stacks' teardown hung).
    raw.setHeader("Connection", "keep-alive");
    raw.setHeader("X-Accel-Buffering", "no"); // no buffering in nginx
    for (const [name, value] of Object.entries(this.#reply.getHeaders()))
      if (value !== undefined) raw.setHeader(name, value);
    raw.writeHead(raw.statusCode ?? 200);
    this.#headersSent = true;
  }

  send(frame: Frame): Promise<void> {
    if (!this.#connected) return Promise.resolve(); // gone: the stream is ending
    this.#sendHeaders();
    return this.#reply.raw.write(formatFrame(frame)) ? Promise.resolve() : this.drained();
  }

  writeEvent(seq: number, event: string, json: string): boolean {
    if (!this.#connected) return true; // gone: the stream is ending; nothing to wait for
    return this.#reply.raw.write(formatEventFrame(seq, event, json));
  }

  drained(): Promise<void> {
    const raw = this.#reply.raw;
    return new Promise((resolve) => {
      const done = () => {
        raw.off("drain", done);
        raw.off("close", done);
        resolve();
      };
      raw.once("drain", done);
      raw.once("close", done);
    });
  }

  heartbeat(): void {
    if (this.#connected && this.#reply.raw.headersSent) this.#reply.raw.write(HEARTBEAT);
  }

  close(): void {
    if (!this.#connected) return;
    this.gone();
    // A stream that never sent its head leaves the response to Fastify (as @fastify/sse did).
    if (this.#headersSent) this.#reply.raw.end();
  }

  destroy(): void {
    this.#reply.raw.destroy();
  }

  onGone(stream: GoneListener): void {
    if (this.#connected) this.#stream = stream;
    else stream.end("client_closed");
  }
}
