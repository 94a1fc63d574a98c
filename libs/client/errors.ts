/** An answer from herald that is not a success: its HTTP status and herald's error code. */
export class HeraldHttpError extends Error {
  readonly status: number;
  readonly code: string;
  /** Seconds to wait before trying again, when the server said (429, 503). */
  readonly retryAfter: number | null;

  constructor(status: number, code: string, message: string, retryAfter: number | null = null) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

/** 401: no token, a token that is not valid, or one that has expired (`code` says which). */
export class HeraldAuthError extends HeraldHttpError {}

/** 404: no such job for this client (or it is another client's). */
export class HeraldNotFoundError extends HeraldHttpError {}

/** The server could not be reached at all (refused, reset, DNS, timeout). */
export class HeraldConnectionError extends Error {
  readonly url: string;
  constructor(url: string, cause: unknown) {
    super(`cannot reach herald at ${url}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = "HeraldConnectionError";
    this.url = url;
  }
}

/** The right named error for an error answer. */
export function httpError(status: number, body: unknown, retryAfterHeader: string | null): HeraldHttpError {
  const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = typeof err?.code === "string" ? err.code : `http_${status}`;
  const message = typeof err?.message === "string" ? err.message : `herald answered ${status}`;
  const retryAfter = retryAfterHeader !== null && /^\d+$/.test(retryAfterHeader) ? Number(retryAfterHeader) : null;
  if (status === 401) return new HeraldAuthError(status, code, message, retryAfter);
  if (status === 404) return new HeraldNotFoundError(status, code, message, retryAfter);
  return new HeraldHttpError(status, code, message, retryAfter);
}
