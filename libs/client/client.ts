import {
  isTerminal,
  type ClientIdentity,
  type CurrentClient,
  type JobEvent,
  type JobEventName,
  type JobList,
  type JobState,
  type SubmitJobRequest,
  type SubmittedJob,
  type WebhookTarget,
} from "../contracts/mod.ts";
import { HeraldConnectionError, HeraldHttpError, httpError } from "./errors.ts";
import { streamEvents } from "./events.ts";
import type {
  ClientOptions,
  EventsOptions,
  JobsOptions,
  StatusOptions,
  StreamItem,
  SubmitOptions,
  WaitForEndOptions,
  WaitOptions,
} from "./types.ts";
import { waitForEnd } from "./waitForEnd.ts";

export interface HeraldClient {
  readonly url: string;
  /** Submits a job; resolves when herald has stored it (202). */
  submit(type: string, payload?: unknown, opts?: SubmitOptions): Promise<SubmittedJob>;
  /** The job's latest state; with `wait`, once it has ended (or the wait ran out). */
  status(jobId: string, opts?: StatusOptions): Promise<JobState>;
  /**
   * The job's state once it has ended, over plain HTTP (no event stream): long-polls the job's
   * state; after `timeoutMs`, the state as it is then.
   */
  waitForEnd(jobId: string, opts?: WaitForEndOptions): Promise<JobState>;
  /**
   * A page of the client's jobs, newest first, and the cursor of the next (null: no more). Its
   * `eventId` is where an event stream resumes (`events({ since: eventId })`) to miss nothing the
   * page does not hold.
   */
  jobs(opts?: JobsOptions): Promise<JobList>;
  /** Cancels a job that has not ended; HeraldHttpError 409 if it has. */
  cancel(jobId: string): Promise<JobState>;
  /** Registers the client's webhook: every job's events it lists (by default the terminal ones) are POSTed to it. */
  setWebhook(webhook: { url: string; events?: JobEventName[] }): Promise<WebhookTarget>;
  /** Removes the client's webhook. */
  deleteWebhook(): Promise<void>;
  /** Creates or rotates the secret that signs the client's webhooks (`whsec_…`); answered once. */
  rotateWebhookSecret(): Promise<string>;
  /** The client's events (or one job's), resuming across disconnects with nothing missed or repeated. */
  events(opts?: EventsOptions): AsyncGenerator<StreamItem, void, undefined>;
  /**
   * Follows a job to its end and returns its terminal event (`succeeded`, `failed` or `canceled`):
   * over the job's event stream, or, where herald serves no event streams at this URL (an api
   * without a notifier behind it, a proxy that refuses them), over plain HTTP (`waitForEnd`).
   */
  wait(jobId: string, opts?: WaitOptions): Promise<JobEvent>;
}

/** GET /v1/jobs's query string for these options. */
function jobsQuery(jo: JobsOptions): string {
  const q = new URLSearchParams();
  if (jo.status !== undefined) q.set("status", ([] as string[]).concat(jo.status).join(","));
  if (jo.type !== undefined) q.set("type", jo.type);
  if (jo.limit !== undefined) q.set("limit", String(jo.limit));
  if (jo.cursor !== undefined) q.set("cursor", jo.cursor);
  const text = q.toString();
  return text ? `?${text}` : "";
}

function trimUrl(url: string): string {
  return url.replace(/\/+$/, "");
}

async function request<T>(
  o: Required<Pick<ClientOptions, "url" | "fetch">> & Pick<ClientOptions, "token">,
  method: string,
  path: string,
  { body, headers = {}, signal }: { body?: unknown; headers?: Record<string, string>; signal?: AbortSignal } = {},
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
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    signal?.throwIfAborted();
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
      request<SubmittedJob>(o, "POST", "/v1/jobs", {
        body: {
          type,
          payload,
          ...(so.timeout !== undefined ? { timeout: so.timeout } : {}),
          ...scheduleOf(so),
          ...(so.webhook !== undefined ? { webhook: so.webhook } : {}),
        } satisfies SubmitJobRequest,
        headers: so.idempotencyKey ? { "idempotency-key": so.idempotencyKey } : {},
      }),
    status: (jobId, so = {}) =>
      request<JobState>(
        o,
        "GET",
        `/v1/jobs/${id(jobId)}${so.wait !== undefined ? `?wait=${so.wait}` : ""}`,
        so.signal ? { signal: so.signal } : {},
      ),
    waitForEnd: (jobId, wo = {}) => waitForEnd(client.status, jobId, wo),
    jobs: (jo = {}) => request<JobList>(o, "GET", `/v1/jobs${jobsQuery(jo)}`, jo.signal ? { signal: jo.signal } : {}),
    cancel: (jobId) => request<JobState>(o, "DELETE", `/v1/jobs/${id(jobId)}`),
    setWebhook: (webhook) => request<WebhookTarget>(o, "PUT", "/v1/clients/me/webhook", { body: webhook }),
    deleteWebhook: async () => {
      await request<null>(o, "DELETE", "/v1/clients/me/webhook");
    },
    rotateWebhookSecret: async () =>
      (await request<{ secret: string }>(o, "POST", "/v1/clients/me/webhook-secret")).secret,
    events: (eo = {}) => streamEvents({ url: o.url, fetch: o.fetch, ...(o.token ? { token: o.token } : {}) }, eo),
    async wait(jobId, wo = {}) {
      const signal = wo.signal ? { signal: wo.signal } : {};
      let noEventStreams = false;
      try {
        for await (const item of client.events({ job: jobId, ...signal })) {
          if (item.type === "connection" && item.error && !servesEventStreams(item.error)) {
            noEventStreams = true;
            break;
          }
          if (item.type !== "event") continue;
          if (item.event.event === "progress") wo.onProgress?.(item.event);
          if (isTerminal(item.event.event)) return item.event;
        }
      } catch (err) {
        if (servesEventStreams(err)) throw err;
        noEventStreams = true;
      }
      wo.signal?.throwIfAborted();
      if (!noEventStreams) {
        // A job's stream starts at its first event, so it always holds the terminal one: it can
        // only have ended early because it was aborted.
        throw new Error(`the event stream of job ${jobId} ended before the job did`);
      }
      // The same end over plain HTTP.
      const [end, me] = await Promise.all([
        client.waitForEnd(jobId, signal),
        request<CurrentClient>(o, "GET", "/v1/clients/me", signal),
      ]);
      return terminalEvent(end, me.clientId);
    },
  };
  return client;
}

/**
 * False for a refusal of an event stream that says this URL serves none: no such route (a 404
 * other than herald's `job_not_found`), a method or media type refused (405, 406), not implemented
 * (501), or an answer that is not an event stream (a 200 of something else, code `http_200`).
 */
function servesEventStreams(err: unknown): boolean {
  if (!(err instanceof HeraldHttpError)) return true;
  if (err.status === 404) return err.code === "job_not_found";
  return ![200, 405, 406, 501].includes(err.status);
}

/** A job's terminal event as its ended state tells it (the state carries every field but the client's id). */
function terminalEvent(s: JobState, clientId: string): JobEvent {
  return {
    jobId: s.jobId,
    clientId,
    type: s.type,
    event: s.event,
    attempt: s.attempt,
    progress: s.progress,
    result: s.result ?? null,
    error: s.error,
    at: s.finishedAt ?? s.updatedAt,
  };
}
