import type { HeraldClient } from "../../../libs/client/mod.ts";
import { CliError } from "../context.ts";
import { colors, formatEvent } from "../output.ts";

export interface TailArgs {
  job?: string;
  since?: string;
  json?: boolean;
}

/**
 * `herald tail`: follows the client's events (or one job's) as they happen, resuming across
 * dropped connections. --json: one NDJSON line per event on stdout (connection notes on stderr).
 */
export async function tail(client: HeraldClient, args: TailArgs, signal: AbortSignal): Promise<number> {
  let since: "earliest" | number | undefined;
  if (args.since === "earliest") since = "earliest";
  else if (args.since !== undefined) {
    if (!/^\d+$/.test(args.since)) throw new CliError("--since takes `earliest` or an event id", 2);
    since = Number(args.since);
  }
  const c = colors(process.stdout);
  const note = colors(process.stderr);
  for await (const item of client.events({
    ...(args.job ? { job: args.job } : {}),
    ...(since !== undefined ? { since } : {}),
    signal,
  })) {
    if (item.type === "event") {
      process.stdout.write(
        args.json ? `${JSON.stringify({ id: item.id, ...item.event })}\n` : `${formatEvent(item.id, item.event, c)}\n`,
      );
    } else if (item.type === "gap") {
      const text = `events after #${item.lastEventId} are no longer kept (${item.reason}); showing from #${item.firstAvailable}`;
      process.stderr.write(`${note.yellow(text)}\n`);
    } else if (item.state === "reconnecting" || item.state === "resumed") {
      process.stderr.write(
        `${note.dim(item.state === "resumed" ? "resumed" : `connection lost; reconnecting${item.error ? ` (${item.error.message})` : ""}`)}\n`,
      );
    }
  }
  return signal.aborted ? 130 : 0;
}
