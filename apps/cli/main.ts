import { Command, CommanderError, Option } from "commander";
import { JOB_STATUSES } from "../../libs/client/mod.ts";
import { clientFor, CliError, explain, resolveUrl } from "./context.ts";
import { login, token } from "./commands/login.ts";
import { type SubmitArgs, submit } from "./commands/submit.ts";
import { cancel, status } from "./commands/status.ts";
import { tail } from "./commands/tail.ts";
import { jobs, type JobsCommandOptions } from "./commands/jobs.ts";
import { inspect } from "./commands/inspect.ts";

// `herald`: the command line for herald. Exit codes: 0 ok, 1 failure (or a job that failed),
// 2 usage error, 124 `status --wait <seconds>` ran out before the job ended, 130 interrupted (Ctrl-C).

const interrupted = new AbortController();
process.once("SIGINT", () => interrupted.abort());

let exitCode = 0;
/** Wraps a command: resolves the server URL, maps errors to messages and exit codes. */
const run =
  // biome-ignore lint/suspicious/noConfusingVoidType: a command that has no exit code of its own returns nothing
    (action: (url: string, command: Command) => Promise<number | void>) =>
    async (...args: unknown[]) => {
      const command = args.at(-1) as Command;
      const url = resolveUrl(command.optsWithGlobals().url as string | undefined);
      try {
        exitCode = (await action(url, command)) ?? 0;
      } catch (err) {
        if (interrupted.signal.aborted) {
          exitCode = 130;
          return;
        }
        throw explain(err, url);
      }
      if (interrupted.signal.aborted) exitCode = 130;
    };

const program = new Command()
  .name("herald")
  .description("Submit jobs to herald and follow them live.")
  .addOption(new Option("--url <url>", "herald's URL").env("HERALD_URL"))
  .showHelpAfterError("(run with --help for usage)")
  .exitOverride()
  .addHelpText(
    "after",
    `
Examples:
  $ herald login --url http://127.0.0.1:3000
  $ herald submit sleep --payload '{"ms":5000,"steps":5}' --wait
  $ herald tail --json | jq .event
  $ herald jobs --status running
  $ NATS_URL=nats://127.0.0.1:4222 herald inspect`,
  );

program
  .command("login")
  .description("create a client identity and keep its token (in $XDG_CONFIG_HOME/herald)")
  .addHelpText(
    "after",
    `
Examples:
  $ herald login
  $ herald login --url https://herald.example.com`,
  )
  .action(run(async (url) => login(url, process.stdout)));

program
  .command("token")
  .description('print the stored token (for curl: -H "Authorization: Bearer $(herald token)")')
  .addHelpText(
    "after",
    `
Example:
  $ curl -H "Authorization: Bearer $(herald token)" http://127.0.0.1:3000/v1/jobs/01M8GD3M9MW1N3NW05V0HBFRJZ`,
  )
  .action(run(async (url) => token(url, process.stdout)));

program
  .command("submit")
  .description("submit a job; prints its id, or with --wait follows it to its end")
  .argument("<type>", "job type (echo, sleep, sha256, fail, flaky, or your own)")
  .option("--payload <json>", "the payload, as JSON")
  .option("--payload-file <file>", "read the payload from a file (- for stdin)")
  .option("--idempotency-key <key>", "the same key returns the same job (safe to retry)")
  .option("--timeout <duration>", "each attempt's time limit (10s, 5m, 250ms), at most the type's own")
  .option("--wait", "follow the job: progress, then the result; exit 0 if it succeeded, 1 if not")
  .option("--json", "machine-readable output (with --wait: one NDJSON line per event)")
  .option("--delay <duration>", "run it later: after 30s, 5m, 2h, … (at most JOB_MAX_DELAY)")
  .option("--at <time>", "run it later: at this RFC 3339 time, e.g. 2026-12-01T09:30:00Z")
  .option(
    "--webhook <url>",
    "POST the job's end to this URL, signed (create the secret first: POST /v1/clients/me/webhook-secret)",
  )
  .addHelpText(
    "after",
    `
Examples:
  $ herald submit echo --payload '{"hello":"world"}'
  $ herald submit sha256 --payload '{"data":"abc","rounds":2000000}' --wait
  $ herald submit report --payload-file report.json --idempotency-key order-42 --wait
  $ herald submit sleep --payload '{"ms":60000}' --timeout 10s --wait
  $ herald submit echo --payload '{"hello":"later"}' --delay 30s
  $ herald submit echo --at 2026-12-01T09:30:00Z`,
  )
  .action(
    run(async (url, cmd) => {
      const o = cmd.opts<Omit<SubmitArgs, "type">>();
      return submit(clientFor(url), { type: cmd.args[0]!, ...o }, interrupted.signal);
    }),
  );

program
  .command("status")
  .description("a job's latest state; with --wait, once it has ended")
  .argument("<jobId>")
  .option("--json", "print the state as JSON")
  .option(
    "--wait [seconds]",
    "wait for the job to end (at most <seconds>), over plain HTTP; exit 0 if it succeeded, 1 if not, 124 if it has not ended",
  )
  .addHelpText(
    "after",
    `
Examples:
  $ herald status 01M8GD3M9MW1N3NW05V0HBFRJZ
  $ herald status 01M8GD3M9MW1N3NW05V0HBFRJZ --json | jq .result
  $ herald status 01M8GD3M9MW1N3NW05V0HBFRJZ --wait 300`,
  )
  .action(
    run(async (url, cmd) =>
      status(clientFor(url), cmd.args[0]!, cmd.opts<{ json?: boolean; wait?: true | string }>(), interrupted.signal),
    ),
  );

program
  .command("jobs")
  .description("your jobs, newest first, a page at a time")
  .option("--status <statuses>", `only these, comma-separated: ${JOB_STATUSES.join(", ")}`)
  .option("--type <type>", "only jobs of this type")
  .option("--limit <n>", "at most this many per page (1-200, default 50)")
  .option("--cursor <cursor>", "the page after the one that printed it")
  .option("--all", "every page, to the oldest job retained")
  .option("--json", "one JSON line per job (the state GET /v1/jobs/:id answers)")
  .addHelpText(
    "after",
    `
Examples:
  $ herald jobs
  $ herald jobs --status queued,running --type sleep
  $ herald jobs --all --json | jq -r 'select(.status == "failed") | .jobId'`,
  )
  .action(run(async (url, cmd) => jobs(clientFor(url), cmd.opts<JobsCommandOptions>(), interrupted.signal)));

program
  .command("cancel")
  .description("cancel a job that has not ended")
  .argument("<jobId>")
  .option("--json", "print the canceled state as JSON")
  .addHelpText(
    "after",
    `
Example:
  $ herald cancel 01M8GD3M9MW1N3NW05V0HBFRJZ`,
  )
  .action(run(async (url, cmd) => cancel(clientFor(url), cmd.args[0]!, !!cmd.opts().json)));

program
  .command("tail")
  .description("follow your events as they happen; resumes across dropped connections (Ctrl-C to stop)")
  .option("--job <jobId>", "only this job, from its first event; stops after its last")
  .option("--since <id>", "start after this event id, or `earliest` for all that is retained")
  .option("--json", "one NDJSON line per event (for jq)")
  .addHelpText(
    "after",
    `
Examples:
  $ herald tail
  $ herald tail --since earliest --json | jq -c '{id, jobId, event}'
  $ herald tail --job 01M8GD3M9MW1N3NW05V0HBFRJZ`,
  )
  .action(
    run(async (url, cmd) =>
      tail(clientFor(url), cmd.opts<{ job?: string; since?: string; json?: boolean }>(), interrupted.signal),
    ),
  );

program
  .command("inspect")
  .description("what operators look at: JOBS, the workers consumer, RESULTS, dead letters (from NATS_URL)")
  .option("--json", "one JSON object")
  .addHelpText(
    "after",
    `
Examples:
  $ NATS_URL=nats://127.0.0.1:4222 herald inspect
  $ herald inspect --json | jq .workers`,
  )
  .action(run(async (_url, cmd) => inspect(!!cmd.opts().json)));

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // --help and --version exit 0; anything else commander refuses is a usage error.
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  const e = err instanceof CliError ? err : explain(err, "");
  process.stderr.write(`herald: ${e.message}\n`);
  process.exit(e.exitCode);
}
process.exit(exitCode);
