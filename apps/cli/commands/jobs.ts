import { JOB_STATUSES, type HeraldClient, type JobState, type JobStatus } from "../../../libs/client/mod.ts";
import { CliError } from "../context.ts";
import { colors, STATUS_COLOR } from "../output.ts";

export interface JobsCommandOptions {
  status?: string;
  type?: string;
  limit?: string;
  cursor?: string;
  all?: boolean;
  json?: boolean;
}

/** One job on one line: `01M8…  sleep  running  2026-11-30T12:00:00.000Z  40% step 2 of 5`. */
function jobLine(s: JobState): string {
  const c = colors(process.stdout);
  let detail = "";
  if (s.progress && s.finishedAt === null)
    detail = `  ${s.progress.pct}%${s.progress.message ? ` ${s.progress.message}` : ""}`;
  if (s.error) detail = `  ${s.error.code}: ${s.error.message}`;
  return `${s.jobId}  ${s.type}  ${c[STATUS_COLOR[s.status]](s.status.padEnd(9))}  ${s.createdAt}${detail}\n`;
}

function statusesOf(value: string): JobStatus[] {
  const names = value.split(",");
  const unknown = names.find((n) => !(JOB_STATUSES as readonly string[]).includes(n));
  if (unknown !== undefined)
    throw new CliError(
      `--status takes ${JOB_STATUSES.join(", ")} (comma-separated), not ${JSON.stringify(unknown)}`,
      2,
    );
  return names as JobStatus[];
}

/**
 * `herald jobs`: your jobs, newest first, a page at a time (--all: every page). With filters a page
 * may hold fewer jobs than --limit; where more are left, how to ask for them is said on stderr.
 */
export async function jobs(client: HeraldClient, opts: JobsCommandOptions, signal: AbortSignal): Promise<number> {
  const limit = opts.limit === undefined ? undefined : Number(opts.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= 200))
    throw new CliError(`--limit takes a whole number from 1 to 200, not ${JSON.stringify(opts.limit)}`, 2);
  const filter = {
    ...(opts.status !== undefined ? { status: statusesOf(opts.status) } : {}),
    ...(opts.type !== undefined ? { type: opts.type } : {}),
    ...(limit !== undefined ? { limit } : {}),
  };
  let cursor = opts.cursor;
  for (;;) {
    const page = await client.jobs({ ...filter, ...(cursor !== undefined ? { cursor } : {}), signal });
    for (const s of page.jobs) process.stdout.write(opts.json ? `${JSON.stringify(s)}\n` : jobLine(s));
    if (page.nextCursor === null) return 0;
    if (!opts.all) {
      process.stderr.write(`more: herald jobs --cursor ${page.nextCursor} (or --all)\n`);
      return 0;
    }
    cursor = page.nextCursor;
  }
}
