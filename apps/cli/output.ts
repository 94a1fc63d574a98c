import { isTerminal, statusOf, type JobEvent, type JobStatus } from "../../libs/client/mod.ts";

/** Colors only on a terminal, and never with NO_COLOR set (https://no-color.org). */
export function colors(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env) {
  const on = stream.isTTY === true && !env.NO_COLOR;
  const wrap = (code: number) => (s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);
  return { green: wrap(32), red: wrap(31), yellow: wrap(33), dim: wrap(2), bold: wrap(1), cyan: wrap(36) };
}
export type Colors = ReturnType<typeof colors>;

/** The color of each status (a Record: a new status does not compile until it has one). */
export const STATUS_COLOR: Readonly<Record<JobStatus, keyof Colors>> = {
  scheduled: "dim",
  queued: "cyan",
  running: "cyan",
  retrying: "cyan",
  succeeded: "green",
  failed: "red",
  canceled: "yellow",
};

/** One event as a person reads it: `12:00:01  01M8…  sleep  progress 40% step 2 of 5`. */
export function formatEvent(id: number, e: JobEvent, c: Colors): string {
  const time = e.at.slice(11, 19);
  // Only the end of a job stands out in a stream of events.
  const name = isTerminal(e.event) ? c[STATUS_COLOR[statusOf(e.event)]](e.event) : e.event;
  let detail = "";
  if (e.event === "progress" && e.progress)
    detail = ` ${e.progress.pct}%${e.progress.message ? ` ${e.progress.message}` : ""}`;
  if (e.event === "succeeded") detail = ` ${JSON.stringify(e.result)}`;
  if ((e.event === "failed" || e.event === "retrying") && e.error) detail = ` ${e.error.code}: ${e.error.message}`;
  if (e.event === "queued" && e.runAt) detail = ` (runs at ${e.runAt})`;
  if (e.attempt > 1 && e.event === "started") detail = ` (attempt ${e.attempt})`;
  return `${c.dim(`${time} #${id}`)}  ${e.jobId}  ${e.type}  ${name}${detail}`;
}

/** A one-line progress bar for a terminal: `[########------------] 40% step 2 of 5`. */
export function progressBar(pct: number, message: string | null, width = 24): string {
  const filled = Math.round((Math.max(0, Math.min(100, pct)) / 100) * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(Math.round(pct)).padStart(3)}%${message ? ` ${message}` : ""}`;
}
