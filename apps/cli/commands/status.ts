import type { HeraldClient, JobState } from "../../../libs/client/mod.ts";
import { CliError } from "../context.ts";
import { colors, STATUS_COLOR } from "../output.ts";

/** `status --wait <seconds>` ran out before the job ended (the exit code of timeout(1)). */
export const EXIT_NOT_ENDED = 124;

function describe(s: JobState): string {
  const c = colors(process.stdout);
  const status = c[STATUS_COLOR[s.status]](s.status);
  const lines = [
    `${s.jobId}  ${s.type}  ${status}  attempt ${s.attempt}`,
    `  created ${s.createdAt}  updated ${s.updatedAt}${s.finishedAt ? `  finished ${s.finishedAt}` : ""}`,
  ];
  if (s.runAt) lines.push(`  run at ${s.runAt}`);
  if (s.progress) lines.push(`  progress ${s.progress.pct}%${s.progress.message ? ` ${s.progress.message}` : ""}`);
  if (s.result !== null && s.result !== undefined) lines.push(`  result ${JSON.stringify(s.result)}`);
  if (s.error) lines.push(`  error ${s.error.code}: ${s.error.message}`);
  return `${lines.join("\n")}\n`;
}

/** The user's own limit of `--wait <seconds>` (none for a bare `--wait`), in ms. */
function waitLimitMs(wait: true | string): number | undefined {
  if (wait === true) return undefined;
  if (!/^\d+(\.\d+)?$/.test(wait))
    throw new CliError(`--wait takes a number of seconds, not ${JSON.stringify(wait)}`, 2);
  return Number(wait) * 1000;
}

/**
 * `herald status <jobId>`: the job's latest state. With `--wait [seconds]`: its state once it has
 * ended (asked over plain HTTP, each request held by the server up to a minute), or when the
 * user's limit runs out; exits 0 if it succeeded, 1 if it failed or was canceled, 124 if it has not
 * ended by then.
 */
export async function status(
  client: HeraldClient,
  jobId: string,
  opts: { json?: boolean; wait?: true | string },
  signal: AbortSignal,
): Promise<number> {
  const limitMs = opts.wait === undefined ? null : waitLimitMs(opts.wait);
  const s =
    limitMs === null
      ? await client.status(jobId)
      : await client.waitForEnd(jobId, { signal, ...(limitMs !== undefined ? { timeoutMs: limitMs } : {}) });
  process.stdout.write(opts.json ? `${JSON.stringify(s)}\n` : describe(s));
  if (limitMs === null) return 0;
  if (s.finishedAt === null) return EXIT_NOT_ENDED;
  return s.status === "succeeded" ? 0 : 1;
}

/** `herald cancel <jobId>`: cancels a job that has not ended. */
export async function cancel(client: HeraldClient, jobId: string, json: boolean): Promise<number> {
  const s = await client.cancel(jobId);
  process.stdout.write(json ? `${JSON.stringify(s)}\n` : `${s.jobId} canceled\n`);
  return 0;
}
