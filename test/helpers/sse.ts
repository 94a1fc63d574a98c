import { EventSource, type FetchLike } from "eventsource";

type Message = { type: string; data: string; lastEventId: string };

export interface ReceivedEvent {
  id: string;
  event: string;
  data: string;
  /** Arrived after a resync with an id below one already received: an event the live path missed. */
  recovered?: boolean;
}

export interface SseClientOptions {
  /** Sent on every (re)connect. */
  token: string;
  /** Where to connect now: lets a test move the client to another notifier, like a load balancer. */
  baseUrl: () => string;
  path: string;
  /** The first connection's resume point (`?lastEventId=`); reconnects send the Last-Event-ID header. */
  lastEventId?: string;
}

/**
 * A real SSE client (the `eventsource` package, which reconnects and sends Last-Event-ID as a
 * browser does) that records every event, open and error, in order.
 */
export class SseClient {
  readonly events: ReceivedEvent[] = [];
  readonly gaps: unknown[] = [];
  /** `resync` frames received (the server replays a window after a RESULTS leader change). */
  readonly resyncs: number[] = [];
  /** Events that came again after a resync and were dropped by id, as clients are told to. */
  repeatsAfterResync = 0;
  #seen = new Set<string>();
  #maxId = 0;
  opens = 0;
  errors = 0;
  #es: EventSource;

  constructor(o: SseClientOptions) {
    const query = o.lastEventId !== undefined ? `?lastEventId=${encodeURIComponent(o.lastEventId)}` : "";
    // Each (re)connection asks baseUrl() once, here: the URL below is only a placeholder origin.
    const fetchThrough: FetchLike = (url, init) => {
      const u = new URL(url);
      return fetch(`${o.baseUrl()}${u.pathname}${u.search}`, {
        ...init,
        headers: { ...init.headers, authorization: `Bearer ${o.token}` },
      });
    };
    this.#es = new EventSource(`http://herald.invalid${o.path}${query}`, { fetch: fetchThrough });
    this.#es.addEventListener("open", () => this.opens++);
    this.#es.addEventListener("error", () => this.errors++);
    for (const name of ["queued", "started", "progress", "retrying", "succeeded", "failed", "canceled"]) {
      this.#es.addEventListener(`job.${name}`, (e) => {
        const m = e as unknown as Message;
        if (this.resyncs.length && this.#seen.has(m.lastEventId)) {
          this.repeatsAfterResync++;
          return;
        }
        this.#seen.add(m.lastEventId);
        const id = Number(m.lastEventId);
        const recovered = this.resyncs.length > 0 && id < this.#maxId;
        this.#maxId = Math.max(this.#maxId, id);
        this.events.push({ id: m.lastEventId, event: m.type, data: m.data, ...(recovered ? { recovered } : {}) });
      });
    }
    this.#es.addEventListener("gap", (e) => this.gaps.push(JSON.parse((e as unknown as Message).data)));
    this.#es.addEventListener("resync", (e) => this.resyncs.push((JSON.parse((e as unknown as Message).data) as { resumeFrom: number }).resumeFrom));
  }

  get readyState(): number {
    return this.#es.readyState;
  }

  get ids(): number[] {
    return this.events.map((e) => Number(e.id));
  }

  async waitFor(predicate: (c: SseClient) => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this)) {
      if (Date.now() > deadline) {
        throw new Error(`SSE client: ${what} not reached in ${timeoutMs}ms (events: ${this.events.length}, last id ${this.events.at(-1)?.id}, opens ${this.opens}, errors ${this.errors})`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.#es.close();
  }
}

export const CLOSED = 2;
