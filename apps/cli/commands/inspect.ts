import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats, serversForTools } from "../../../libs/nats/mod.ts";
import {
  DLQ_STREAM,
  JOBS_STREAM,
  RESULTS_STREAM,
  SCHEDULED_STREAM,
  SCHEDULER_CONSUMER,
  WEBHOOK_DISPATCH_CONSUMER,
  WEBHOOK_SENDERS_CONSUMER,
  WEBHOOKS_DLQ_STREAM,
  WEBHOOKS_STREAM,
  WORKERS_CONSUMER,
} from "../../../libs/contracts/mod.ts";
import { loadConfig } from "../../../libs/config/mod.ts";
import { createLogger } from "../../../libs/log/mod.ts";
import { listTypeConsumers, type TypeConsumerState } from "../../../libs/queue/mod.ts";
import { CliError } from "../context.ts";

export interface Report {
  nats: string;
  jobs: { messages: number; bytes: number; maxMessages: number };
  workers: { pending: number; ackPending: number; redelivered: number; waitingPulls: number; delivered: number };
  results: { messages: number; bytes: number; firstSeq: number; lastSeq: number; maxAgeHours: number };
  deadLetters: { messages: number };
  /**
   * SCHEDULED: jobs waiting for their runAt (a canceled one stays until it would have been due).
   * `parked`: held by a scheduler's delayed nak; `unseen`: not yet delivered to any scheduler (a
   * backlog here means no worker runs).
   */
  scheduled: { messages: number; bytes: number; maxMessages: number; parked: number; unseen: number };
  /**
   * Each capped job type's consumer (`workers-<type>`): its cap, its jobs held by workers (running,
   * or waiting out a retry backoff) and its jobs queued behind the cap.
   */
  types: TypeConsumerState[];
  /**
   * Webhooks: `undispatched`, events stored but not yet turned into deliveries (the dispatcher's
   * lag); `waiting`, deliveries in WEBHOOKS (`retrying` of them between attempts or in flight);
   * `deadLetters`, deliveries that failed for good.
   */
  webhooks: { undispatched: number; waiting: number; retrying: number; deadLetters: number };
}

/** What `herald inspect` shows, read from NATS. */
export async function readReport(jsm: JetStreamManager, nats: string): Promise<Report> {
  const [jobs, results, dlq, workers, scheduled, scheduler, types, dispatch, webhooks, senders, webhookDlq] =
    await Promise.all([
      jsm.streams.info(JOBS_STREAM),
      jsm.streams.info(RESULTS_STREAM),
      jsm.streams.info(DLQ_STREAM),
      jsm.consumers.info(JOBS_STREAM, WORKERS_CONSUMER),
      jsm.streams.info(SCHEDULED_STREAM),
      jsm.consumers.info(SCHEDULED_STREAM, SCHEDULER_CONSUMER),
      listTypeConsumers(jsm),
      jsm.consumers.info(RESULTS_STREAM, WEBHOOK_DISPATCH_CONSUMER),
      jsm.streams.info(WEBHOOKS_STREAM),
      jsm.consumers.info(WEBHOOKS_STREAM, WEBHOOK_SENDERS_CONSUMER),
      jsm.streams.info(WEBHOOKS_DLQ_STREAM),
    ]);
  return {
    nats,
    jobs: { messages: jobs.state.messages, bytes: jobs.state.bytes, maxMessages: jobs.config.max_msgs },
    workers: {
      pending: workers.num_pending,
      ackPending: workers.num_ack_pending,
      redelivered: workers.num_redelivered,
      waitingPulls: workers.num_waiting,
      delivered: workers.delivered.stream_seq,
    },
    results: {
      messages: results.state.messages,
      bytes: results.state.bytes,
      firstSeq: results.state.first_seq,
      lastSeq: results.state.last_seq,
      maxAgeHours: results.config.max_age / 3.6e12,
    },
    deadLetters: { messages: dlq.state.messages },
    scheduled: {
      messages: scheduled.state.messages,
      bytes: scheduled.state.bytes,
      maxMessages: scheduled.config.max_msgs,
      parked: scheduler.num_ack_pending,
      unseen: scheduler.num_pending,
    },
    types,
    webhooks: {
      undispatched: dispatch.num_pending + dispatch.num_ack_pending,
      waiting: webhooks.state.messages,
      retrying: senders.num_ack_pending,
      deadLetters: webhookDlq.state.messages,
    },
  };
}

const size = (n: number) =>
  n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;

/** The report as `herald inspect` prints it for people: one line per stream or consumer. */
export function formatReport(r: Report): string {
  return [
    `NATS ${r.nats}`,
    `JOBS      ${String(r.jobs.messages).padStart(8)} waiting     ${size(r.jobs.bytes).padStart(10)}   (bound ${r.jobs.maxMessages})`,
    `workers   ${String(r.workers.pending).padStart(8)} pending     ${String(r.workers.ackPending).padStart(6)} ack pending   ${r.workers.redelivered} redelivered   ${r.workers.waitingPulls} waiting pulls`,
    ...r.types.map(
      (t) =>
        `  ${t.type.padEnd(8)}${String(t.queued).padStart(8)} queued      ${String(t.inFlight).padStart(6)} in flight of ${t.concurrency < 0 ? "no cap" : t.concurrency} (consumer ${t.consumer})`,
    ),
    `RESULTS   ${String(r.results.messages).padStart(8)} events      ${size(r.results.bytes).padStart(10)}   seq ${r.results.firstSeq}..${r.results.lastSeq}   kept ${r.results.maxAgeHours} h`,
    `JOBS_DLQ  ${String(r.deadLetters.messages).padStart(8)} dead letters   (npm run dlq -- list)`,
    `SCHEDULED ${String(r.scheduled.messages).padStart(8)} waiting     ${size(r.scheduled.bytes).padStart(10)}   (bound ${r.scheduled.maxMessages})   ${r.scheduled.parked} parked   ${r.scheduled.unseen} not yet seen by a scheduler`,
    `WEBHOOKS  ${String(r.webhooks.waiting).padStart(8)} waiting     ${String(r.webhooks.retrying).padStart(6)} in flight or between retries   ${r.webhooks.undispatched} events not yet dispatched   ${r.webhooks.deadLetters} dead letters (npm run dlq -- webhooks list)`,
    "",
  ].join("\n");
}

/** `herald inspect`: what an operator looks at, read from NATS like `nats stream report`. */
export async function inspect(json: boolean): Promise<number> {
  const config = loadConfig();
  const servers = serversForTools(config);
  const log = createLogger({ level: "silent" });
  let nc: NatsConnection;
  try {
    nc = await connectNats({ servers, name: "herald-inspect", log, firstConnectTimeoutMs: 3_000 });
  } catch (err) {
    throw new CliError(`cannot reach NATS at ${servers.join(",")} (set NATS_URL): ${(err as Error).message}`);
  }
  try {
    const r = await readReport(await jetstreamManager(nc), servers.join(","));
    process.stdout.write(json ? `${JSON.stringify(r)}\n` : formatReport(r));
    return 0;
  } finally {
    await nc.close();
  }
}
