import type { HeraldClient, JobState } from "../../../libs/client/mod.ts";
import { colors, STATUS_COLOR } from "../output.ts";

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

/** `herald status <jobId>`: the job's latest state. */
export async function status(client: HeraldClient, jobId: string, json: boolean): Promise<number> {
  const s = await client.status(jobId);
  process.stdout.write(json ? `${JSON.stringify(s)}\n` : describe(s));
  return 0;
}

/** `herald cancel <jobId>`: cancels a job that has not ended. */
export async function cancel(client: HeraldClient, jobId: string, json: boolean): Promise<number> {
  const s = await client.cancel(jobId);
  process.stdout.write(json ? `${JSON.stringify(s)}\n` : `${s.jobId} canceled\n`);
  return 0;
}
