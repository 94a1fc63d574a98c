import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { loadConfig } from "../../libs/config/mod.ts";
import { createLogger } from "../../libs/log/mod.ts";
import { connectNats, serversForTools } from "../../libs/nats/mod.ts";
import { readDeadLetters, resubmitDeadLetters } from "../../libs/queue/mod.ts";
import { loadConfigOrExit } from "../../libs/app/mod.ts";
import { createJobRegistry, loadJobTypes } from "../../libs/jobs/mod.ts";

const USAGE = `usage:
  npm run dlq -- list [--json]         the jobs that failed for good, oldest first
  npm run dlq -- resubmit <jobId>...   run them again as new jobs (same client, type, payload)
  npm run dlq -- resubmit --all

NATS_URL selects the server; without it, the one-process mode's server (DATA_DIR/nats-url).`;

// `npm run dlq`: what an operator does with dead letters (docs/operations.md).
const config = await loadConfigOrExit(() => loadConfig());
const [command, ...args] = process.argv.slice(2);
if (command !== "list" && command !== "resubmit") {
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}
const log = createLogger({ level: "warn", name: "herald-dlq" });
const servers = serversForTools(config);
const nc = await connectNats({ servers, name: "herald-dlq", log, firstConnectTimeoutMs: 5_000 });
// The job types (WORKER_JOBS's too) say which lane of JOBS a resubmitted job goes to: a type with
// a concurrency cap has its own consumer.
const registry = createJobRegistry(await loadJobTypes(config.workerJobs));
const deps = { js: jetstream(nc), jsm: await jetstreamManager(nc), registry };
let exitCode = 0;
try {
  if (command === "list") {
    // Streamed as read: every letter, however many (a list held in memory would need a cap).
    const json = args.includes("--json");
    let listed = 0;
    for await (const l of readDeadLetters(deps.jsm)) {
      listed++;
      process.stdout.write(
        json
          ? `${JSON.stringify(l)}\n`
          : `${l.job.jobId}  ${l.job.type.padEnd(10)} client ${l.job.clientId}  attempts ${l.attempts}  ${l.failedAt}\n` +
              `    ${l.error.code}: ${l.error.message}\n    payload ${JSON.stringify(l.job.payload).slice(0, 200)}\n`,
      );
    }
    if (listed === 0 && !json) process.stdout.write("no dead letters\n");
  } else {
    const all = args.includes("--all");
    if (!all && args.length === 0) {
      process.stderr.write(`${USAGE}\n`);
      exitCode = 2;
    }
    let outcomes = 0;
    for await (const outcome of resubmitDeadLetters(deps, all ? undefined : args)) {
      outcomes++;
      if ("error" in outcome) {
        process.stderr.write(`${outcome.from}: ${outcome.error.message}\n`);
        exitCode = 1;
      } else {
        process.stdout.write(`${outcome.from} resubmitted as ${outcome.jobId}\n`);
      }
    }
    if (all && outcomes === 0) process.stdout.write("no dead letters\n");
  }
} finally {
  await nc.close();
}
// Not process.exit(): it cuts off what stdout has not yet written to a pipe (a list piped to a
// file or to jq lost all but its first ~48 KB). With the connection closed, the process ends itself.
process.exitCode = exitCode;
