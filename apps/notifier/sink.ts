/**
 * One SSE frame, as fields: how it looks on the wire is sseSink.ts's business (formatFrame).
 * `data` is the text to send (split into `data:` lines at line breaks).
 */
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
   * Writes one stored event (its RESULTS sequence, its event name, the envelope's JSON text) as an
   * event frame, only after a first send() has put the headers out. Returns false when the socket's
   * buffer is full: wait for drained() before writing more. The hot path of a replay: no frame
   * object and no promise per event.
   */
  writeEvent(seq: number, event: string, json: string): boolean;
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
