import { EventSource } from "eventsource";
import { isTerminal, JOB_EVENTS, sseEventName, type GapNotice, type JobEvent } from "../contracts/mod.ts";
import { httpError, HeraldConnectionError } from "./errors.ts";
import type { EventsOptions, StreamItem } from "./types.ts";

interface StreamContext {
  url: string;
  token?: string;
  fetch: typeof fetch;
}

/**
 * A client's (or one job's) events as an async iterator that never loses its place.
 *
 * It uses the `eventsource` package — a spec-following EventSource for Node and browsers that can
 * send an Authorization header and sends Last-Event-ID when it reconnects. On top of it:
 * - a connection the server refuses (429, 503, a notifier going away, a network error that
 *   EventSource gives up on) is retried from the last id seen: after the server's Retry-After when
 *   it gives one (a notifier without NATS, or shedding a storm of resumes, jitters it), else with
 *   exponential backoff;
 * - ids are checked: an event at or below the last id is dropped (never repeated). Ids are a
 *   cursor: the notifier sends a client's events in increasing id order, so the last id is where
 *   to resume;
 * - `gap` notices and connection changes are items of the stream, so a UI can show them;
 * - 401 and 404 end the stream with HeraldAuthError / HeraldNotFoundError (retrying cannot help);
 * - a job's stream ends after its terminal event (or at the 204 a finished job answers).
 */
export async function* streamEvents(
  ctx: StreamContext,
  opts: EventsOptions = {},
): AsyncGenerator<StreamItem, void, undefined> {
  const queue: (StreamItem | { type: "end" } | { type: "fail"; error: Error })[] = [];
  let wake: (() => void) | null = null;
  const push = (item: (typeof queue)[number]) => {
    queue.push(item);
    wake?.();
  };

  let lastId: number | null = typeof opts.since === "number" ? opts.since : null;
  let es: EventSource | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let everOpened = false;
  let ended = false;
  const initialMs = opts.backoff?.initialMs ?? 500;
  const maxMs = opts.backoff?.maxMs ?? 30_000;
  let delay = initialMs;

  const path = opts.job ? `/v1/jobs/${encodeURIComponent(opts.job)}/events` : "/v1/events";
  const resumeFrom = () =>
    lastId !== null ? String(lastId) : opts.since === "earliest" || opts.job ? "earliest" : null;

  const finish = (item: { type: "end" } | { type: "fail"; error: Error }) => {
    if (ended) return;
    ended = true;
    es?.close();
    if (retryTimer) clearTimeout(retryTimer);
    push(item);
  };

  let refusedRetryAfterS: number | null = null;
  const connect = () => {
    if (ended) return;
    const from = resumeFrom();
    const url = `${ctx.url}${path}${from !== null ? `?lastEventId=${encodeURIComponent(from)}` : ""}`;
    es = new EventSource(url, {
      withCredentials: true,
      fetch: async (input, init) => {
        const res = await ctx.fetch(input, {
          ...init,
          headers: { ...init.headers, ...(ctx.token ? { authorization: `Bearer ${ctx.token}` } : {}) },
        });
        // EventSource hides the answer's headers: the wait the server asks for is read here.
        const retryAfter = res.status === 503 || res.status === 429 ? Number(res.headers.get("retry-after")) : NaN;
        refusedRetryAfterS = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter : null;
        return res;
      },
    });
    es.addEventListener("open", () => {
      delay = initialMs;
      push({ type: "connection", state: everOpened ? "resumed" : "open" });
      everOpened = true;
    });
    es.addEventListener("error", (e) => {
      if (ended) return;
      const source = es!;
      const { code, message } = e as unknown as { code?: number; message?: string };
      if (source.readyState !== EventSource.CLOSED) {
        // Dropped: EventSource reconnects by itself after `retry:`, sending Last-Event-ID.
        push({ type: "connection", state: "reconnecting" });
        return;
      }
      source.close();
      if (code === 204) return finish({ type: "end" }); // a job stream whose end we have seen
      if (code === 401 || code === 404) {
        // The error body is not available through EventSource: ask once more to get herald's reason.
        void describeRefusal(ctx, url, code).then((error) => finish({ type: "fail", error }));
        return;
      }
      const error = code
        ? httpError(code, null, null)
        : new HeraldConnectionError(ctx.url, new Error(message ?? "connection failed"));
      // The server's Retry-After when it gave one (it spreads a crowd of clients out), else backoff.
      const waitMs = refusedRetryAfterS !== null ? refusedRetryAfterS * 1000 : delay;
      push({ type: "connection", state: "reconnecting", error, retryInMs: waitMs });
      retryTimer = setTimeout(connect, waitMs);
      if (refusedRetryAfterS === null) delay = Math.min(delay * 2, maxMs);
    });
    es.addEventListener("gap", (e) => {
      const data = JSON.parse((e as unknown as { data: string }).data) as GapNotice;
      push({ type: "gap", ...data });
    });
    for (const name of JOB_EVENTS) {
      es.addEventListener(sseEventName(name), (e) => {
        const m = e as unknown as { data: string; lastEventId: string };
        const id = Number(m.lastEventId);
        if (!Number.isSafeInteger(id) || (lastId !== null && id <= lastId)) return; // never repeat
        lastId = id;
        const event = JSON.parse(m.data) as JobEvent;
        push({ type: "event", id, event });
        if (opts.job && isTerminal(event.event)) finish({ type: "end" });
      });
    }
  };

  const onAbort = () => finish({ type: "end" });
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  if (opts.signal?.aborted) return;
  push({ type: "connection", state: "connecting" });
  connect();
  try {
    for (;;) {
      const item = queue.shift();
      if (!item) {
        await new Promise<void>((r) => (wake = r));
        wake = null;
        continue;
      }
      if (item.type === "end") return;
      if (item.type === "fail") throw item.error;
      yield item;
    }
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    finish({ type: "end" });
  }
}

/** A plain request to the refused stream URL, for herald's JSON error (EventSource hides bodies). */
async function describeRefusal(ctx: StreamContext, url: string, status: number): Promise<Error> {
  try {
    const res = await ctx.fetch(url, {
      headers: { accept: "text/event-stream", ...(ctx.token ? { authorization: `Bearer ${ctx.token}` } : {}) },
      credentials: "include",
    });
    if (res.ok) {
      await res.body?.cancel();
      return httpError(status, null, null);
    }
    const body = await res.json().catch(() => null);
    return httpError(res.status, body, res.headers.get("retry-after"));
  } catch {
    return httpError(status, null, null);
  }
}
