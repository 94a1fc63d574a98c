import { pino, type Logger } from "pino";

export type { Logger } from "pino";

/** Query parameters whose values are secrets and never reach a log line. */
const SECRET_QUERY_PARAMS = /([?&](?:access_token|token)=)[^&#]*/gi;

/** Replaces secret query parameter values in a URL (or path) with `[REDACTED]`. */
export function redactUrl(url: string): string {
  return url.replace(SECRET_QUERY_PARAMS, "$1[REDACTED]");
}

/**
 * The one logger factory: pino JSON, one line per event. Tokens are redacted wherever they
 * can appear: auth headers, cookies, `token` fields and `access_token` in URLs.
 */
export function createLogger(
  opts: { level?: string; name?: string; destination?: pino.DestinationStream } = {},
): Logger {
  const options: pino.LoggerOptions = {
    name: opts.name ?? "herald",
    level: opts.level ?? "info",
    redact: {
      paths: [
        "token",
        "*.token",
        "req.headers.authorization",
        "req.headers.cookie",
        'res.headers["set-cookie"]',
        "headers.authorization",
        "headers.cookie",
      ],
      censor: "[REDACTED]",
    },
    serializers: {
      req(req: { method?: string; url?: string; id?: string; ip?: string }) {
        return { id: req.id, method: req.method, url: req.url ? redactUrl(req.url) : req.url, ip: req.ip };
      },
      err: pino.stdSerializers.err,
    },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
