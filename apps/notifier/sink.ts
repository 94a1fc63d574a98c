/** One SSE frame. `data` is sent as it is (the envelope's JSON text, already one line). */
export interface Frame {
  id?: string;
  event?: string;
  data?: string;
  retry?: number;
}

/**
 * Where an event stream writes: one client connection. Small on purpose (Mercure's Transport idea
 * turned around): the stream logic does not know it is talking to an HTTP response.
 */
export interface EventSink {
  /** Resolves once the frame is handed to the socket (after a drain if the socket was full). */
  send(frame: Frame): Promise<void>;
  /**
   * Writes frames already in SSE's wire format (`id: …\nevent: …\ndata: …\n\n`), only after a
   * first send() has put the headers out. Returns false when the socket's buffer is full: wait for
   * drained() before writing more. The hot path of a replay: no promise per frame.
   */
  write(text: string): boolean;
  /** Resolves when the socket can take more again, or the client is gone. */
  drained(): Promise<void>;
  /**
   * Writes a `: heartbeat` comment now if the stream's headers are out and the client is still
   * there (nothing otherwise). Not held back by a full socket: a client that stops reading is cut
   * off by its send buffer, not by its heartbeats.
   */
  heartbeat(): void;
  /** Ends the response normally (the client may reconnect with Last-Event-ID). */
  close(): void;
  /** Drops the connection at once, discarding what is buffered (a client that stopped reading). */
  destroy(): void;
  /**
   * Ends `stream` (`end("client_closed")`) once when the client has gone away (or the connection
   * was ended). The stream itself rather than a promise or a callback: an idle stream then holds no
   * promise, no reaction and no closure for it (tens of thousands of them are).
   */
  onGone(stream: GoneListener): void;
}

/** What a sink tells that its client has gone: the event stream. */
export interface GoneListener {
  end(reason: "client_closed"): void;
}

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
