import {
  isTerminal,
  type ClientIdentity,
  type JobEvent,
  type JobState,
  type SubmitJobRequest,
  type SubmittedJob,
} from "../contracts/mod.ts";
import { HeraldConnectionError, httpError } from "./errors.ts";
import { streamEvents } from "./events.ts";
import type { ClientOptions, EventsOptions, StreamItem, SubmitOptions, WaitOptions } from "./types.ts";

export interface HeraldClient {
  readonly url: string;
  /** Submits a job; resolves when herald has stored it (202). */
  submit(type: string, payload?: unknown, opts?: SubmitOptions): Promise<SubmittedJob>;
  /** The job's latest state. */
  status(jobId: string): Promise<JobState>;
  /** Cancels a job that has not ended; HeraldHttpError 409 if it has. */
  cancel(jobId: string): Promise<JobState>;
  /** The client's events (or one job's), resuming across disconnects with nothing missed or repeated. */
  events(opts?: EventsOptions): AsyncGenerator<StreamItem, void, undefined>;
  /** Follows a job to its end and returns its terminal event (`succeeded`, `failed` or `canceled`). */
  wait(jobId: string, opts?: WaitOptions): Promise<JobEvent>;
}

function trimUrl(url: string): string {
  return url.replace(/\/+$/, "");
}

async function request<T>(
  o: Required<Pick<ClientOptions, "url" | "fetch">> & Pick<ClientOptions, "token">,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  let res: Response;
  try {
    res = await o.fetch(`${o.url}${path}`, {
      method,
      credentials: "include",
      headers: {
        accept: "application/json",
        ...(body !== undefined ? { "content-type": "application/json" } : {}),
        ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
        ...headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (err) {
    throw new HeraldConnectionError(o.url, err);
  }
  const parsed = await res.json().catch(() => null);
  if (!res.ok) throw httpError(res.status, parsed, res.headers.get("retry-after"));
  return parsed as T;
}

/** A submit's `runAt` (a Date sent as RFC 3339) and `delay`, as the body takes them (both: the server's 400). */
function scheduleOf(so: SubmitOptions): Pick<SubmitJobRequest, "runAt" | "delay"> {
  return {
    ...(so.runAt !== undefined ? { runAt: so.runAt instanceof Date ? so.runAt.toISOString() : so.runAt } : {}),
    ...(so.delay !== undefined ? { delay: so.delay } : {}),
  };
}

/** A new client identity (POST /v1/clients): its id and token. */
export async function registerClient(opts: Omit<ClientOptions, "token">): Promise<ClientIdentity> {
  return request<ClientIdentity>(
    { url: trimUrl(opts.url), fetch: opts.fetch ?? globalThis.fetch.bind(globalThis) },
    "POST",
    "/v1/clients",
  );
}

/** A herald client for one identity. Works in Node 20+ and in browsers. */
export function createClient(opts: ClientOptions): HeraldClient {
  const o = { url: trimUrl(opts.url), token: opts.token, fetch: opts.fetch ?? globalThis.fetch.bind(globalThis) };
  const id = (jobId: string) => encodeURIComponent(jobId);
  const client: HeraldClient = {
    url: o.url,
    submit: (type, payload, so = {}) =>
      request<SubmittedJob>(
        o,
        "POST",
        "/v1/jobs",
        { type, payload, ...scheduleOf(so) } satisfies SubmitJobRequest,
        so.idempotencyKey ? { "idempotency-key": so.idempotencyKey } : {},
      ),
    status: (jobId) => request<JobState>(o, "GET", `/v1/jobs/${id(jobId)}`),
    cancel: (jobId) => request<JobState>(o, "DELETE", `/v1/jobs/${id(jobId)}`),
    events: (eo = {}) => streamEvents({ url: o.url, fetch: o.fetch, ...(o.token ? { token: o.token } : {}) }, eo),
    async wait(jobId, wo = {}) {
      for await (const item of client.events({ job: jobId, ...(wo.signal ? { signal: wo.signal } : {}) })) {
        if (item.type !== "event") continue;
        if (item.event.event === "progress") wo.onProgress?.(item.event);
        if (isTerminal(item.event.event)) return item.event;
      }
      // A job's stream starts at its first event, so it always holds the terminal one: it can only
      // have ended early because it was aborted.
      wo.signal?.throwIfAborted();
      throw new Error(`the event stream of job ${jobId} ended before the job did`);
    },
  };
  return client;
}
