import { readFileSync } from "node:fs";
import { isTerminal, type HeraldClient, type JobEvent } from "../../../libs/client/mod.ts";
import { CliError } from "../context.ts";
import { colors, formatEvent, progressBar } from "../output.ts";

export interface SubmitArgs {
  type: string;
  payload?: string;
  payloadFile?: string;
  idempotencyKey?: string;
  /** Each attempt's time limit, as written (`10s`): the API reads it, with the grammar it reads every duration with. */
  timeout?: string;
  wait?: boolean;
  json?: boolean;
  /** Run after this long (`30s`, `5m`, ms): the server parses it. */
  delay?: string;
  /** The job's own webhook URL (its terminal event is POSTed there, signed). */
  webhook?: string;
  /** Run at this RFC 3339 time. */
  at?: string;
}

function parsePayload(args: SubmitArgs): unknown {
  if (args.payload !== undefined && args.payloadFile !== undefined)
    throw new CliError("give --payload or --payload-file, not both", 2);
  const text = args.payloadFile !== undefined ? readPayloadFile(args.payloadFile) : args.payload;
  if (text === undefined) return {};
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`the payload is not JSON: ${(err as Error).message}`, 2);
  }
}

function readPayloadFile(file: string): string {
  try {
    return readFileSync(file === "-" ? 0 : file, "utf8");
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`, 2);
  }
}

/**
 * `herald submit <type>`: prints the job id. With --wait: follows the job — a progress bar on a
 * terminal, plain lines otherwise, on stderr — prints the result on stdout, and exits 0 if it
 * succeeded, 1 if it failed or was canceled.
 */
export async function submit(client: HeraldClient, args: SubmitArgs, signal: AbortSignal): Promise<number> {
  const payload = parsePayload(args);
  if (args.delay !== undefined && args.at !== undefined) throw new CliError("give --delay or --at, not both", 2);
  const job = await client.submit(args.type, payload, {
    ...(args.idempotencyKey ? { idempotencyKey: args.idempotencyKey } : {}),
    ...(args.timeout !== undefined ? { timeout: args.timeout } : {}),
    ...(args.delay !== undefined ? { delay: args.delay } : {}),
    ...(args.webhook !== undefined ? { webhook: { url: args.webhook } } : {}),
    ...(args.at !== undefined ? { runAt: args.at } : {}),
  });
  if (!args.wait) {
    process.stdout.write(args.json ? `${JSON.stringify(job)}\n` : `${job.jobId}\n`);
    return 0;
  }
  const err = process.stderr;
  const c = colors(err);
  const tty = err.isTTY === true;
  if (!args.json) err.write(`${c.dim(`job ${job.jobId} ${job.status}`)}\n`);
  let end: JobEvent | null = null;
  for await (const item of client.events({ job: job.jobId, signal })) {
    if (item.type !== "event") continue;
    const e = item.event;
    if (args.json) process.stdout.write(`${JSON.stringify({ id: item.id, ...e })}\n`);
    else if (e.event === "progress" && e.progress && tty)
      err.write(`\r\x1b[2K${progressBar(e.progress.pct, e.progress.message)}`);
    else if (!isTerminal(e.event)) err.write(`${formatEvent(item.id, e, c)}\n`);
    if (isTerminal(e.event)) end = e;
  }
  if (!end) throw new CliError("interrupted", 130);
  if (tty && !args.json) err.write("\r\x1b[2K");
  if (!args.json) {
    if (end.event === "succeeded") process.stdout.write(`${JSON.stringify(end.result, null, 2)}\n`);
    else err.write(`${c.red(`job ${end.event}`)}${end.error ? `: ${end.error.code}: ${end.error.message}` : ""}\n`);
  }
  return end.event === "succeeded" ? 0 : 1;
}
