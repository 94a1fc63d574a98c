/** One SSE frame. `data` is sent as it is (the envelope's JSON text, already one line). */
export interface Frame {
  id?: string;
  event?: string;
  data?: string;
  retry?: number;
}

/**
 * Where an event stream writes: one client connection. Small on purpose (Mercure's Transport idea
 * turned around): the stream logic does not know it is talking to @fastify/sse.
 */
export interface EventSink {
  /** Resolves once the frame is handed to the socket (after a drain if the socket was full). */
  send(frame: Frame): Promise<void>;
  /** Ends the response normally (the client may reconnect with Last-Event-ID). */
  close(): void;
  /** Drops the connection at once, discarding what is buffered (a client that stopped reading). */
  destroy(): void;
  /** Resolves when the client has gone away (or the connection was ended). */
  readonly gone: Promise<void>;
}
