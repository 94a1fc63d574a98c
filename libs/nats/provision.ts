import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager, type StreamConfig } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { Logger } from "pino";
import { JOBS_STREAM, RESULTS_STREAM, SCHEDULED_STREAM, WEBHOOKS_STREAM } from "../contracts/mod.ts";
import { typeConsumerDefinition, type Definitions } from "./definitions.ts";
import { isJetStreamError, JetStreamErrorCode } from "./jetStreamErrors.ts";

/**
 * Creates or updates JOBS, RESULTS, JOBS_DLQ, SCHEDULED, JOBINDEX, WEBHOOKS, WEBHOOKS_DLQ, the
 * `workers`, `scheduler`, `webhook-dispatch` and `webhook-senders` consumers and the idempotency,
 * webhooks and webhook_status buckets so that they match the definitions. Safe to run from every app at every start, concurrently.
 * The design: docs/design.md, "Provisioning".
 */
export interface ProvisionedBuckets {
  idempotency: KV;
  /** Each client's webhook and signing secrets. */
  webhookConfig: KV;
  /** Each job's last webhook delivery outcome. */
  webhookStatus: KV;
}

export async function provision(nc: NatsConnection, defs: Definitions, log: Logger): Promise<ProvisionedBuckets> {
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, defs.jobs, log);
  await ensureStream(jsm, defs.results, log);
  await ensureStream(jsm, defs.deadLetters, log);
  await ensureStream(jsm, defs.scheduled, log);
  await ensureStream(jsm, defs.jobIndex, log);
  await ensureConsumer(jsm, JOBS_STREAM, defs.workers, log);
  await ensureConsumer(jsm, SCHEDULED_STREAM, defs.scheduler, log);
  await ensureStream(jsm, defs.webhooks, log);
  await ensureStream(jsm, defs.webhookDeadLetters, log);
  await ensureConsumer(jsm, RESULTS_STREAM, defs.webhookDispatch, log);
  await ensureConsumer(jsm, WEBHOOKS_STREAM, defs.webhookSenders, log);
  const idempotency = await ensureBucket(nc, defs.idempotency);
  const webhookConfig = await ensureBucket(nc, defs.webhookConfig);
  const webhookStatus = await ensureBucket(nc, defs.webhookStatus);
  return { idempotency, webhookConfig, webhookStatus };
}

/**
 * Creates or updates the consumer of each capped job type (`workers-<type>`, max_ack_pending = its
 * concurrency), after `provision` (the `workers` consumer's filter must already leave the capped
 * lane alone). Run by every app that knows the job types (api, worker); never deletes one: a type
 * whose cap was removed keeps its consumer until the jobs queued in its lane have run, and workers
 * drain it (docs/design.md, "Concurrency per type").
 */
export async function provisionTypeConsumers(
  jsm: JetStreamManager,
  defs: Definitions,
  caps: readonly { type: string; concurrency: number }[],
  log: Logger,
): Promise<void> {
  for (const { type, concurrency } of caps) {
    await ensureConsumer(jsm, JOBS_STREAM, typeConsumerDefinition(defs.workers, type, concurrency), log);
  }
}

async function ensureStream(jsm: JetStreamManager, cfg: StreamConfig, log: Logger): Promise<void> {
  try {
    await jsm.streams.info(cfg.name);
  } catch (err) {
    if (!isJetStreamError(err, JetStreamErrorCode.STREAM_NOT_FOUND)) throw err;
    try {
      await jsm.streams.add(cfg);
      log.info({ stream: cfg.name }, "stream created");
      return;
    } catch (addErr) {
      // Another app created it at the same moment: fall through to update.
      if (!isJetStreamError(addErr, JetStreamErrorCode.STREAM_NAME_IN_USE)) throw addErr;
    }
  }
  await jsm.streams.update(cfg.name, cfg);
}

async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  cfg: Definitions["workers"],
  log: Logger,
): Promise<void> {
  try {
    await jsm.consumers.info(stream, cfg.durable_name);
  } catch (err) {
    if (!isJetStreamError(err, JetStreamErrorCode.CONSUMER_NOT_FOUND)) throw err;
    try {
      await jsm.consumers.add(stream, cfg);
      log.info({ stream, consumer: cfg.durable_name }, "consumer created");
      return;
    } catch (addErr) {
      // Another app created it at the same moment, from other settings (an identical create is
      // answered as a success): fall through to update, as for a stream.
      if (!isJetStreamError(addErr, JetStreamErrorCode.CONSUMER_ALREADY_EXISTS)) throw addErr;
    }
  }
  await jsm.consumers.update(stream, cfg.durable_name, cfg);
}

async function ensureBucket(nc: NatsConnection, { bucket, ...opts }: Definitions["idempotency"]): Promise<KV> {
  try {
    return await new Kvm(nc).create(bucket, opts);
  } catch (err) {
    // Another app created it at the same moment with other settings (its RESULTS_MAX_AGE): the
    // bucket is there now, and creating it again opens it (nats.js reads the stream first).
    if (!isJetStreamError(err, JetStreamErrorCode.STREAM_NAME_IN_USE)) throw err;
    return new Kvm(nc).create(bucket, opts);
  }
}
