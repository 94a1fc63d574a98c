import type { JobState } from "../contracts/mod.ts";
import { HeraldConnectionError, HeraldHttpError } from "./errors.ts";
import type { StatusOptions, WaitForEndOptions } from "./types.ts";

/** The longest wait one status request may ask for (the server's limit). */
export const MAX_STATUS_WAIT_SECONDS = 60;

/** How soon to ask again after an answer that did not wait (an api without `?wait=`, or one stopping). */
const NO_WAIT_RETRY_MS = 1_000;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(done, ms);
    function done() {
      signal?.removeEventListener("abort", aborted);
      resolve();
    }
    function aborted() {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener("abort", aborted, { once: true });
  });

/** An answer worth asking again after: herald busy, stopping or without NATS, or not reachable for a moment. */
function askAgain(err: unknown): boolean {
  return (
    err instanceof HeraldConnectionError ||
    (err instanceof HeraldHttpError && [429, 502, 503, 504].includes(err.status))
  );
}

/**
 * The job's state once it has ended, over plain HTTP: `GET /v1/jobs/:id?wait=` (the server holds
 * each request up to a minute), asked again until the job ends or `timeoutMs` passes, then the
 * state as it is. A refusal that may pass (503 while an api stops or has no NATS, 429, a dropped
 * connection) is asked again after its Retry-After, else with backoff; 401, 404 and bad input are
 * thrown.
 */
export async function waitForEnd(
  status: (jobId: string, opts: StatusOptions) => Promise<JobState>,
  jobId: string,
  opts: WaitForEndOptions = {},
): Promise<JobState> {
  const deadline = opts.timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + opts.timeoutMs;
  const signal = opts.signal;
  let backoffMs = 500;
  for (;;) {
    signal?.throwIfAborted();
    const waitS = Math.max(0, Math.min(MAX_STATUS_WAIT_SECONDS, (deadline - Date.now()) / 1000));
    const asked = Date.now();
    try {
      const state = await status(jobId, { wait: Math.round(waitS * 1000) / 1000, ...(signal ? { signal } : {}) });
      if (state.finishedAt !== null || Date.now() >= deadline) return state;
      backoffMs = 500;
      // Answered well before its wait ran out without having ended: an api that does not wait.
      if (Date.now() - asked < waitS * 1000 - 100)
        await sleep(Math.min(NO_WAIT_RETRY_MS, deadline - Date.now()), signal);
    } catch (err) {
      if (signal?.aborted || !askAgain(err) || Date.now() >= deadline) throw err;
      const retryAfter = err instanceof HeraldHttpError && err.retryAfter !== null ? err.retryAfter * 1000 : backoffMs;
      await sleep(Math.min(retryAfter, deadline - Date.now()), signal);
      backoffMs = Math.min(backoffMs * 2, 30_000);
    }
  }
}
