import { EventSource, type FetchLike } from "eventsource";

type Message = { type: string; data: string; lastEventId: string };

export interface ReceivedEvent {
  id: string;
  event: string;
  data: string;
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
 * browser does) that records every event, open and error, in order. Like herald's client library,
 * it comes back after a 503 (the notifier has no NATS, or sheds load): a plain EventSource stops
 * for good on an error status, so a new one is opened after Retry-After, from the last id seen.
 */
export class SseClient {
  readonly events: ReceivedEvent[] = [];
  readonly gaps: unknown[] = [];
  opens = 0;
  errors = 0;
  /** 503 answers (with their Retry-After, in seconds). */
  readonly refusals: { status: number; retryAfter: string | null }[] = [];
  #o: SseClientOptions;
  #es!: EventSource;
  #lastStatus: { status: number; retryAfter: string | null } | null = null;
  #closed = false;
  #timer: NodeJS.Timeout | null = null;

  constructor(o: SseClientOptions) {
    this.#o = o;
    this.#open(o.lastEventId);
  }

  #open(lastEventId: string | undefined): void {
    const o = this.#o;
    const query = lastEventId !== undefined ? `?lastEventId=${encodeURIComponent(lastEventId)}` : "";
    // Each (re)connection asks baseUrl() once, here: the URL below is only a placeholder origin.
    const fetchThrough: FetchLike = async (url, init) => {
      const u = new URL(url);
      const res = await fetch(`${o.baseUrl()}${u.pathname}${u.search}`, {
        ...init,
        headers: { ...init.headers, authorization: `Bearer ${o.token}` },
      });
      this.#lastStatus = { status: res.status, retryAfter: res.headers.get("retry-after") };
      return res;
    };
    const es = new EventSource(`http://herald.invalid${o.path}${query}`, { fetch: fetchThrough });
    this.#es = es;
    es.addEventListener("open", () => this.opens++);
    es.addEventListener("error", () => {
      this.errors++;
      const last = this.#lastStatus;
      if (es.readyState !== CLOSED || this.#closed || last?.status !== 503) return;
      this.refusals.push(last);
      const waitS = Number(last.retryAfter);
      const resumeFrom = this.events.at(-1)?.id ?? o.lastEventId;
      this.#timer = setTimeout(() => this.#open(resumeFrom), (Number.isFinite(waitS) ? waitS : 1) * 1000);
    });
    for (const name of ["queued", "started", "progress", "retrying", "succeeded", "failed", "canceled"]) {
      es.addEventListener(`job.${name}`, (e) => {
        const m = e as unknown as Message;
        this.events.push({ id: m.lastEventId, event: m.type, data: m.data });
      });
    }
    es.addEventListener("gap", (e) => this.gaps.push(JSON.parse((e as unknown as Message).data)));
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
        throw new Error(
          `SSE client: ${what} not reached in ${timeoutMs}ms (events: ${this.events.length}, last id ${this.events.at(-1)?.id}, opens ${this.opens}, errors ${this.errors})`,
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#es.close();
  }
}

export const CLOSED = 2;
