/**
 * One POST of a webhook to a client's URL, safe to aim at an address a client chose (issue 17).
 * Queueing, retries and signatures are the caller's; so is logging: nothing here logs.
 *
 * Why node:http and not fetch: the address check has to happen at the moment of connecting, on
 * the address connected to. A name can resolve to a public address when the URL is registered and
 * to 127.0.0.1 when it is used (DNS rebinding); only the `lookup` hook of a socket sees the
 * address that is actually dialled. `agent: false` makes every request dial (and so check) anew:
 * a pooled connection would skip the lookup.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { performance } from "node:perf_hooks";
import {
  checkResolvedAddresses,
  checkWebhookUrl,
  type LookupAll,
  type WebhookUrlPolicy,
  WebhookUrlRefusedError,
} from "./urlPolicy.ts";

export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_RESPONSE_BYTES = 65_536;
/** How much of the response body is kept for the caller's logs. */
const EXCERPT_CHARS = 256;
/** UTF-8 takes at most 4 bytes a character: enough bytes for EXCERPT_CHARS of any text. */
const EXCERPT_BYTES = EXCERPT_CHARS * 4;

/** The receiver did not finish answering (headers and body, up to the cap) within the time allowed. */
export class WebhookTimeoutError extends Error {
  readonly code = "webhook_timeout";
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(`webhook receiver did not answer within ${timeoutMs} ms`);
    this.name = new.target.name;
    this.timeoutMs = timeoutMs;
  }
}

/** No exchange: DNS failure, connection refused or reset, TLS failure, a malformed answer. */
export class WebhookNetworkError extends Error {
  readonly code = "webhook_network_error";
  /** The system's or Node's code: `ECONNREFUSED`, `ENOTFOUND`, `ECONNRESET`, `CERT_HAS_EXPIRED`… */
  readonly reason: string;

  constructor(reason: string, message: string, cause?: unknown) {
    super(message, { cause });
    this.name = new.target.name;
    this.reason = reason;
  }
}

export interface PostWebhookOptions {
  /** The JSON to send, already serialised (and signed, if it is). */
  body: string;
  /** Sent as given; `content-type` and `user-agent` have defaults. `host` and `content-length` are herald's. */
  headers: Record<string, string>;
  policy: WebhookUrlPolicy;
  /** For the whole exchange: DNS, connect, TLS, sending, the answer and its body up to the cap. */
  timeoutMs?: number;
  /** Reading stops here; the rest of the body is never read. */
  maxResponseBytes?: number;
  /** Aborting rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Resolves the host at connect time: `dns.promises.lookup` unless a test stands in. */
  lookup?: LookupAll;
}

export interface WebhookResponse {
  status: number;
  /** The start of the body (at most 256 characters), for logs. */
  excerpt: string;
  /** Bytes of body read: at most `maxResponseBytes`. */
  bytesRead: number;
  durationMs: number;
}

/**
 * POSTs `opts.body` to `url`. Resolves with the receiver's status whatever it is (a 3xx is not
 * followed: the client registered this URL, not wherever it points); rejects with
 * WebhookUrlRefusedError / InvalidWebhookUrlError (the policy refuses the URL or an address it
 * resolves to now), WebhookTimeoutError or WebhookNetworkError. A body cut off by the receiver
 * before its end is a WebhookNetworkError: the exchange did not complete.
 */
export async function postWebhook(url: URL, opts: PostWebhookOptions): Promise<WebhookResponse> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  const maxBytes = opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, not ${timeoutMs}`);
  if (!(maxBytes >= 0)) throw new RangeError(`maxResponseBytes must be 0 or more, not ${maxBytes}`);
  opts.signal?.throwIfAborted();
  // Again at send time: the policy may have changed since registration. This also checks an IP
  // literal host, for which Node never calls `lookup`.
  const target = checkWebhookUrl(url.href, opts.policy);
  const hostname = target.hostname.startsWith("[") ? target.hostname.slice(1, -1) : target.hostname;
  const isHttps = target.protocol === "https:";
  const resolve: LookupAll = opts.lookup ?? dnsLookup;
  const policy = opts.policy;

  const headers: Record<string, string> = { "content-type": "application/json", "user-agent": "herald-webhooks/1" };
  for (const [name, value] of Object.entries(opts.headers)) headers[name.toLowerCase()] = value;
  headers.host = target.host;
  headers["content-length"] = String(Buffer.byteLength(opts.body));

  // The connect-time check. Node 20 asks for every address (`all: true`) when it tries IPv4 and
  // IPv6 in turn (autoSelectFamily), one address otherwise; either way all of them are checked.
  const checkedLookup: net.LookupFunction = (host, options, callback) => {
    resolve(host, { all: true }).then(
      (found) => {
        const addresses = found.map((a) => ({ address: a.address, family: a.family }));
        const wanted = options.family === 4 || options.family === 6 ? options.family : 0;
        const usable = wanted === 0 ? addresses : addresses.filter((a) => a.family === wanted);
        if (usable.length === 0) {
          const err: NodeJS.ErrnoException = new Error(`${host} resolves to no address`);
          err.code = "ENOTFOUND";
          return callback(err, "");
        }
        try {
          checkResolvedAddresses(
            host,
            addresses.map((a) => a.address),
            policy,
          );
        } catch (err) {
          return callback(err as Error, "");
        }
        if (options.all) callback(null, usable);
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ""),
    );
  };

  const started = performance.now();
  return new Promise<WebhookResponse>((resolvePromise, reject) => {
    let settled = false;
    let req: http.ClientRequest | null = null;
    let response: http.IncomingMessage | null = null;

    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      finish();
    };
    const fail = (err: unknown) =>
      settle(() => {
        // Destroying the request destroys its socket, and with it a response being read.
        response?.destroy();
        req?.destroy();
        reject(err);
      });
    const onAbort = () => fail(opts.signal?.reason);
    const timer = setTimeout(() => fail(new WebhookTimeoutError(timeoutMs)), timeoutMs);
    opts.signal?.addEventListener("abort", onAbort, { once: true });

    try {
      req = (isHttps ? https : http).request({
        method: "POST",
        hostname,
        port: target.port === "" ? undefined : Number(target.port),
        path: `${target.pathname}${target.search}`,
        headers,
        agent: false,
        lookup: checkedLookup,
        // SNI is the name the client registered (never an IP, which TLS does not allow there).
        ...(isHttps && net.isIP(hostname) === 0 ? { servername: hostname } : {}),
      });
    } catch (err) {
      // A header value Node will not send (a newline in it…): the caller's mistake, thrown as is.
      return fail(err);
    }
    const request = req;
    request.on("error", (err) => fail(networkError(err, hostname)));
    request.on("response", (res) => {
      response = res;
      let bytesRead = 0;
      const head: Buffer[] = [];
      let headBytes = 0;
      const done = () =>
        settle(() =>
          resolvePromise({
            status: res.statusCode ?? 0,
            excerpt: excerptOf(head),
            bytesRead,
            durationMs: Math.round(performance.now() - started),
          }),
        );
      res.on("data", (chunk: Buffer) => {
        const take = Math.min(chunk.length, maxBytes - bytesRead);
        bytesRead += take;
        if (headBytes < EXCERPT_BYTES && take > 0) {
          const part = chunk.subarray(0, Math.min(take, EXCERPT_BYTES - headBytes));
          head.push(part);
          headBytes += part.length;
        }
        if (bytesRead >= maxBytes) {
          // Enough: answer now and hang up rather than read (or let the socket buffer) the rest.
          done();
          res.destroy();
          request.destroy();
        }
      });
      res.on("end", done);
      res.on("error", (err) => fail(networkError(err, hostname)));
      res.on("close", () => {
        if (!res.complete) fail(new WebhookNetworkError("ECONNRESET", `${hostname} closed before the body ended`));
      });
    });
    request.end(opts.body);
  });
}

function networkError(err: unknown, hostname: string): unknown {
  if (err instanceof WebhookUrlRefusedError || err instanceof WebhookTimeoutError) return err;
  if (err instanceof WebhookNetworkError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code ?? "unknown";
  const message = (err as Error | null)?.message ?? String(err);
  return new WebhookNetworkError(code, `cannot deliver to ${hostname}: ${message}`, err);
}

/** The first characters of the body as text, not ending in half a surrogate pair. */
function excerptOf(head: Buffer[]): string {
  let text = Buffer.concat(head).toString("utf8").slice(0, EXCERPT_CHARS);
  if (/[\uD800-\uDBFF]$/.test(text)) text = text.slice(0, -1);
  return text;
}
