import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { loadConfig } from "../../libs/config/mod.ts";
import { createLogger } from "../../libs/log/mod.ts";
import { connectNats, serversForTools } from "../../libs/nats/mod.ts";
import { readDeadLetters, resubmitDeadLetters } from "../../libs/queue/mod.ts";
import { readWebhookDeadLetters, resendWebhookDeadLetter } from "../../libs/webhooks/mod.ts";
import { loadConfigOrExit } from "../../libs/app/mod.ts";
import { createJobRegistry, loadJobTypes } from "../../libs/jobs/mod.ts";

const USAGE = `usage:
  npm run dlq -- list [--json]         the jobs that failed for good, oldest first
  npm run dlq -- resubmit <jobId>...   run them again as new jobs (same client, type, payload)
  npm run dlq -- resubmit --all
  npm run dlq -- webhooks list [--json]          webhook deliveries that failed for good, oldest first
  npm run dlq -- webhooks resend <webhookId>...  queue them again (same webhook-id: receivers drop repeats)
  npm run dlq -- webhooks resend --all

NATS_URL selects the server; without it, the one-process mode's server (DATA_DIR/nats-url).`;

// `npm run dlq`: what an operator does with dead letters (docs/operations.md).
const config = await loadConfigOrExit(() => loadConfig());
const [command, ...args] = process.argv.slice(2);
if (command !== "list" && command !== "resubmit" && command !== "webhooks") {
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
  if (command === "webhooks") {
    exitCode = await webhookLetters(args);
  } else if (command === "list") {
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
/** `webhooks list|resend`: the webhook dead letters (WEBHOOKS_DLQ), streamed as read. */
async function webhookLetters([sub, ...rest]: string[]): Promise<number> {
  if (sub === "list") {
    const json = rest.includes("--json");
    let listed = 0;
    for await (const l of readWebhookDeadLetters(deps.jsm)) {
      listed++;
      const d = l.delivery;
      process.stdout.write(
        json
          ? `${JSON.stringify(l)}\n`
          : `${d.webhookId}  job.${d.event}  client ${d.clientId}  attempts ${l.attempts}  ${l.failedAt}\n` +
              `    ${d.url}\n    ${l.error.code}: ${l.error.message.slice(0, 200)}\n`,
      );
    }
    if (listed === 0 && !json) process.stdout.write("no webhook dead letters\n");
    return 0;
  }
  if (sub === "resend" && rest.length > 0) {
    const all = rest.includes("--all");
    const wanted = new Set(rest.filter((a) => a !== "--all"));
    let resent = 0;
    for await (const l of readWebhookDeadLetters(deps.jsm)) {
      if (!all && !wanted.has(l.delivery.webhookId)) continue;
      await resendWebhookDeadLetter(deps, l);
      wanted.delete(l.delivery.webhookId);
      resent++;
      process.stdout.write(`${l.delivery.webhookId} queued again\n`);
    }
    for (const id of wanted) process.stderr.write(`${id}: no webhook dead letter\n`);
    if (all && resent === 0) process.stdout.write("no webhook dead letters\n");
    return wanted.size > 0 ? 1 : 0;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

// Not process.exit(): it cuts off what stdout has not yet written to a pipe (a list piped to a
// file or to jq lost all but its first ~48 KB). With the connection closed, the process ends itself.
process.exitCode = exitCode;
