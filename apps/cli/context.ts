import {
  createClient,
  HeraldAuthError,
  HeraldConnectionError,
  HeraldHttpError,
  HeraldNotFoundError,
  type HeraldClient,
} from "../../libs/client/mod.ts";
import { defaultUrl, loadCredentials } from "./credentials.ts";

/** A failure to report to the user: a message and an exit code (1 failure, 2 usage). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** The server: --url, then HERALD_URL, then the one last logged in to, then the local default. */
export function resolveUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const url = flag ?? env.HERALD_URL ?? defaultUrl() ?? "http://127.0.0.1:3000";
  try {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
  } catch {
    throw new CliError(`not a server URL: ${JSON.stringify(url)} (like http://127.0.0.1:3000)`, 2);
  }
  return url.replace(/\/+$/, "");
}

/** A client for the logged-in identity at `url`, or a clear error saying how to get one. */
export function clientFor(url: string): HeraldClient {
  const identity = loadCredentials(url);
  if (!identity) throw new CliError(`not logged in to ${url}: run \`herald login --url ${url}\``);
  return createClient({ url, token: identity.token });
}

/** herald's errors as one line a person can act on. */
export function explain(err: unknown, url: string): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof HeraldConnectionError)
    return new CliError(
      `cannot reach herald at ${url} — is it running? (${(err.cause as Error)?.message ?? err.message})`,
    );
  if (err instanceof HeraldAuthError) {
    return new CliError(
      err.code === "token_expired"
        ? `your token for ${url} has expired: run \`herald login --url ${url}\``
        : `herald at ${url} does not accept your token (${err.code}): run \`herald login --url ${url}\``,
    );
  }
  if (err instanceof HeraldNotFoundError)
    return new CliError(err.code === "job_not_found" ? err.message.replace(/^no job/, "no such job:") : err.message);
  if (err instanceof HeraldHttpError)
    return new CliError(`${err.message} (${err.status} ${err.code})`, err.status === 400 || err.status === 422 ? 2 : 1);
  return new CliError((err as Error)?.message ?? String(err));
}
