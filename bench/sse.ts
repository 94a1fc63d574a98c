/**
 * A minimal Server-Sent Events reader over node:http: one dedicated socket per stream, no
 * reconnection (a benchmark counts a dropped stream instead of hiding it), and a line parser that
 * allocates little, so that thousands of streams fit in one load process.
 */
import http from "node:http";

export interface SseHandlers {
  /** The TCP connection is established (before the request is answered). */
  onConnect?(): void;
  /** The first bytes of the stream arrived (herald sends `retry:` once it is subscribed). */
  onReady?(): void;
  onEvent?(id: string, event: string, data: string): void;
  /** A `retry:` field (ms): how long the server asks a client to wait before it reconnects. */
  onRetry?(ms: number): void;
  /** A `:` comment line (herald's heartbeat). */
  onComment?(): void;
  /** The stream ended or failed (not called after close()). */
  onClose?(reason: string): void;
}

export interface SseOptions {
  url: string;
  token: string;
  lastEventId?: string;
  localAddress?: string;
  /** Give up if no response headers arrive in this time. */
  connectTimeoutMs?: number;
}

export class SseConnection {
  status: number | null = null;
  /** A non-200 answer's `Retry-After` header, as sent (e.g. a 503 that sheds load). */
  retryAfter: string | undefined;
  ready = false;
  closed = false;
  #req: http.ClientRequest;
  #h: SseHandlers;
  #buf = "";
  #id = "";
  #event = "";
  #data: string | null = null;

  constructor(o: SseOptions, h: SseHandlers) {
    this.#h = h;
    const u = new URL(o.url);
    const headers: Record<string, string> = { accept: "text/event-stream", authorization: `Bearer ${o.token}` };
    if (o.lastEventId !== undefined) headers["last-event-id"] = o.lastEventId;
    this.#req = http.request({
      host: u.hostname,
      port: u.port,
      path: `${u.pathname}${u.search}`,
      method: "GET",
      headers,
      agent: false,
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
    });
    const timer = setTimeout(() => this.#fail("connect timeout"), o.connectTimeoutMs ?? 30_000);
    if (h.onConnect) this.#req.once("socket", (s) => s.once("connect", () => h.onConnect?.()));
    this.#req.on("response", (res) => {
      clearTimeout(timer);
      this.status = res.statusCode ?? 0;
      if (this.status !== 200) {
        const ra = res.headers["retry-after"];
        this.retryAfter = Array.isArray(ra) ? ra[0] : ra;
        res.resume();
        this.#fail(`status ${this.status}`);
        return;
      }
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => this.#push(chunk));
      res.on("end", () => this.#fail("ended by server"));
      res.on("error", (err) => this.#fail(err.message));
    });
    this.#req.on("error", (err) => {
      clearTimeout(timer);
      this.#fail(err.message);
    });
    this.#req.end();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.#req.destroy();
  }

  #fail(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.#req.destroy();
    this.#h.onClose?.(reason);
  }

  #push(chunk: string): void {
    if (!this.ready) {
      this.ready = true;
      this.#h.onReady?.();
    }
    const buf = this.#buf.length ? this.#buf + chunk : chunk;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf("\n", start);
      if (nl < 0) break;
      this.#line(buf, start, nl);
      start = nl + 1;
    }
    this.#buf = start < buf.length ? buf.slice(start) : "";
  }

  #line(buf: string, start: number, end: number): void {
    if (end > start && buf.charCodeAt(end - 1) === 13) end--; // \r
    if (end === start) {
      // blank line: dispatch
      if (this.#data !== null) this.#h.onEvent?.(this.#id, this.#event || "message", this.#data);
      this.#event = "";
      this.#data = null;
      return;
    }
    const c = buf.charCodeAt(start);
    if (c === 58 /* : */) {
      this.#h.onComment?.();
      return;
    }
    let colon = buf.indexOf(":", start);
    if (colon < 0 || colon > end) colon = end;
    const field = buf.slice(start, colon);
    let vs = colon + 1;
    if (vs < end && buf.charCodeAt(vs) === 32) vs++;
    const value = vs <= end ? buf.slice(vs, end) : "";
    switch (field) {
      case "data":
        this.#data = this.#data === null ? value : `${this.#data}\n${value}`;
        break;
      case "event":
        this.#event = value;
        break;
      case "id":
        this.#id = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.#h.onRetry?.(Number(value));
        break;
      default:
        break; // unknown fields
    }
  }
}
