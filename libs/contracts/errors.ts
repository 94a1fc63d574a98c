/**
 * Errors that reach an HTTP client. Each has a status and a stable `code`; the API answers them
 * as `{ error: { code, message } }` (docs/design.md, "api"). Anything else is a bug (500).
 */
export class HeraldError extends Error {
  readonly status: number;
  readonly code: string;
  /** Extra response headers, e.g. Retry-After. */
  readonly headers: Readonly<Record<string, string>>;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export class InvalidInputError extends HeraldError {
  constructor(message: string, code = "invalid_input") {
    super(400, code, message);
  }
}

export class UnauthorizedError extends HeraldError {
  constructor(message = "a valid token is required", code = "unauthorized") {
    super(401, code, message, { "www-authenticate": 'Bearer realm="herald"' });
  }
}

export class NotFoundError extends HeraldError {
  constructor(message = "not found", code = "not_found") {
    super(404, code, message);
  }
}

export class ConflictError extends HeraldError {
  constructor(message: string, code = "conflict") {
    super(409, code, message);
  }
}

export class IdempotencyMismatchError extends HeraldError {
  constructor() {
    super(
      422,
      "idempotency_key_reused",
      "this Idempotency-Key was already used for a different request (another type, payload or timeout)",
    );
  }
}

export class UnavailableError extends HeraldError {
  constructor(message: string, code = "unavailable", retryAfterSeconds = 1) {
    super(503, code, message, { "retry-after": String(retryAfterSeconds) });
  }
}
