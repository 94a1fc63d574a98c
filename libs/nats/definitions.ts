import { readFileSync } from "node:fs";
import type { ConsumerConfig, StreamConfig } from "@nats-io/jetstream";
import type { KvOptions } from "@nats-io/kv";
import { definitionPath } from "./paths.ts";
import {
  cappedJobsFilter,
  DLQ_STREAM,
  IDEMPOTENCY_BUCKET,
  JOB_INDEX_STREAM,
  JOBS_STREAM,
  RESULTS_STREAM,
  SCHEDULED_STREAM,
  SCHEDULER_CONSUMER,
  typeConsumerName,
  WEBHOOK_CONFIG_BUCKET,
  WEBHOOK_DISPATCH_CONSUMER,
  WEBHOOK_SENDERS_CONSUMER,
  WEBHOOK_STATUS_BUCKET,
  WEBHOOKS_DLQ_STREAM,
  WEBHOOKS_STREAM,
  WORKERS_CONSUMER,
} from "../contracts/mod.ts";

const NS_PER_MS = 1_000_000;

/** The settings that the environment may change in the JSON definitions. */
export interface DefinitionOverrides {
  replicas: number;
  resultsMaxAgeMs: number;
  jobAckWaitMs: number;
  /** JOBS max_msgs_per_subject: jobs of one type one client may have queued or running. */
  jobsMaxQueuedPerClient: number;
}

export interface Definitions {
  jobs: StreamConfig;
  results: StreamConfig;
  deadLetters: StreamConfig;
  scheduled: StreamConfig;
  /** JOBINDEX: each client's jobs by ordinal, for GET /v1/jobs. */
  jobIndex: StreamConfig;
  workers: ConsumerConfig & { durable_name: string };
  scheduler: ConsumerConfig & { durable_name: string };
  idempotency: Partial<KvOptions> & { bucket: string };
  /** WEBHOOKS and WEBHOOKS_DLQ: deliveries waiting, and the ones that failed for good. */
  webhooks: StreamConfig;
  webhookDeadLetters: StreamConfig;
  /** On RESULTS: each stored event to its deliveries. On WEBHOOKS: the senders. */
  webhookDispatch: ConsumerConfig & { durable_name: string };
  webhookSenders: ConsumerConfig & { durable_name: string };
  /** Each client's webhook and secrets; each job's last delivery outcome. */
  webhookConfig: Partial<KvOptions> & { bucket: string };
  webhookStatus: Partial<KvOptions> & { bucket: string };
}

function readJson<T>(...parts: string[]): T {
  return JSON.parse(readFileSync(definitionPath(...parts), "utf8")) as T;
}

/**
 * nats/streams/*.json, nats/consumers/workers.json and nats/buckets/idempotency.json are the one
 * source of truth (the `nats` CLI accepts the stream and consumer files as they are). Only the
 * settings named in DefinitionOverrides come from the environment.
 * The design: docs/design.md, "NATS layout".
 */
export function loadDefinitions(o: DefinitionOverrides): Definitions {
  const jobs = readJson<StreamConfig>("streams", `${JOBS_STREAM}.json`);
  const results = readJson<StreamConfig>("streams", `${RESULTS_STREAM}.json`);
  const deadLetters = readJson<StreamConfig>("streams", `${DLQ_STREAM}.json`);
  const scheduled = readJson<StreamConfig>("streams", `${SCHEDULED_STREAM}.json`);
  const jobIndex = readJson<StreamConfig>("streams", `${JOB_INDEX_STREAM}.json`);
  const workers = readJson<ConsumerConfig & { durable_name: string }>("consumers", `${WORKERS_CONSUMER}.json`);
  const scheduler = readJson<ConsumerConfig & { durable_name: string }>("consumers", `${SCHEDULER_CONSUMER}.json`);
  const idempotency = readJson<Partial<KvOptions> & { bucket: string }>("buckets", `${IDEMPOTENCY_BUCKET}.json`);
  const webhooks = readJson<StreamConfig>("streams", `${WEBHOOKS_STREAM}.json`);
  const webhookDeadLetters = readJson<StreamConfig>("streams", `${WEBHOOKS_DLQ_STREAM}.json`);
  const webhookDispatch = readJson<ConsumerConfig & { durable_name: string }>(
    "consumers",
    `${WEBHOOK_DISPATCH_CONSUMER}.json`,
  );
  const webhookSenders = readJson<ConsumerConfig & { durable_name: string }>(
    "consumers",
    `${WEBHOOK_SENDERS_CONSUMER}.json`,
  );
  const webhookConfig = readJson<Partial<KvOptions> & { bucket: string }>("buckets", `${WEBHOOK_CONFIG_BUCKET}.json`);
  const webhookStatus = readJson<Partial<KvOptions> & { bucket: string }>("buckets", `${WEBHOOK_STATUS_BUCKET}.json`);

  jobs.num_replicas = o.replicas;
  // A job's subject is jobs.<type>.<clientId>, and JetStream refuses a client's job past this
  // bound (discard new per subject): one client cannot fill the queue for everyone.
  jobs.max_msgs_per_subject = o.jobsMaxQueuedPerClient;
  results.num_replicas = o.replicas;
  deadLetters.num_replicas = o.replicas;
  scheduled.num_replicas = o.replicas;
  // The same bound for a client's scheduled jobs of one type as for its queued ones.
  scheduled.max_msgs_per_subject = o.jobsMaxQueuedPerClient;
  results.max_age = o.resultsMaxAgeMs * NS_PER_MS;
  // A job is listed for as long as its events are retained, no longer.
  jobIndex.num_replicas = o.replicas;
  jobIndex.max_age = o.resultsMaxAgeMs * NS_PER_MS;
  workers.ack_wait = o.jobAckWaitMs * NS_PER_MS;
  // Attempts are counted and limited by the worker, from the job's own events: the delivery after
  // attempt JOB_MAX_DELIVER (a job that crashed its worker every time) ends the job `failed`. The
  // server must never stop delivering a job by itself: a job it gives up on is left without a
  // terminal event, and deliveries that never start an attempt (a worker cut off from NATS, a
  // cluster electing a leader) count there too. So the consumer's max_deliver is unlimited.
  workers.max_deliver = -1;
  // A scheduled job is re-armed with a delayed nak until it is due: each is a delivery, and each
  // parked job is pending on the consumer. So neither may be bounded: a bounded max_deliver would
  // drop a job parked long enough, and a bounded max_ack_pending would let parked jobs block new
  // ones (docs/design.md, "Scheduled jobs").
  scheduler.max_deliver = -1;
  scheduler.max_ack_pending = -1;
  idempotency.replicas = o.replicas;
  // An Idempotency-Key is honoured for as long as the job's events are retained.
  idempotency.ttl = o.resultsMaxAgeMs;
  webhooks.num_replicas = o.replicas;
  webhookDeadLetters.num_replicas = o.replicas;
  // A delivery waiting out its retry backoff (up to 10 h) is a delayed nak, pending on the consumer:
  // neither count may be bounded, as for the scheduler. Attempts are counted by the sender.
  webhookSenders.max_deliver = -1;
  webhookSenders.max_ack_pending = -1;
  webhookDispatch.max_deliver = -1;
  webhookConfig.replicas = o.replicas;
  webhookStatus.replicas = o.replicas;
  // A job's delivery outcomes are shown for as long as the job is.
  webhookStatus.ttl = o.resultsMaxAgeMs;
  return {
    jobs,
    results,
    deadLetters,
    scheduled,
    jobIndex,
    workers,
    scheduler,
    idempotency,
    webhooks,
    webhookDeadLetters,
    webhookDispatch,
    webhookSenders,
    webhookConfig,
    webhookStatus,
  };
}

/**
 * The consumer of one capped job type: the `workers` consumer's settings (ack wait, unlimited
 * max_deliver), its own filter (the type's capped lane), and max_ack_pending = the cap, which is
 * what makes JetStream deliver no more of the type at once to all workers together
 * (docs/design.md, "Concurrency per type").
 */
export function typeConsumerDefinition(
  workers: Definitions["workers"],
  type: string,
  concurrency: number,
): Definitions["workers"] {
  return {
    ...workers,
    durable_name: typeConsumerName(type),
    description: `herald workers: pull consumer of job type ${type}, at most ${concurrency} at once (its concurrency)`,
    filter_subject: cappedJobsFilter(type),
    max_ack_pending: concurrency,
  };
}
