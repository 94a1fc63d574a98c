import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";
import type { Logger } from "pino";
import type { Config } from "../config/mod.ts";
import { connectNats } from "./connect.ts";
import { loadDefinitions, type Definitions } from "./definitions.ts";
import { provision, type ProvisionedBuckets } from "./provision.ts";
import { ConnectionState, isNatsUnavailable } from "./connectionState.ts";

export interface HeraldNats {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  idempotency: KV;
  /** Each client's webhook and signing secrets (`client.<id>`, `secret.<id>`). */
  webhookConfig: KV;
  /** Each job's last webhook delivery outcome. */
  webhookStatus: KV;
  defs: Definitions;
  /** Up or down right now (the API's fast 503s, the notifier's clean stream ends). */
  state: ConnectionState;
}

/** Connects (with retry) and provisions streams, consumer and bucket: what every app does first. */
export async function connectAndProvision(
  config: Config,
  servers: string[],
  name: string,
  log: Logger,
): Promise<HeraldNats> {
  const nc = await connectNats({ servers, name, log });
  const state = new ConnectionState(nc, log);
  const defs = loadDefinitions({
    replicas: config.natsReplicas,
    resultsMaxAgeMs: config.resultsMaxAgeMs,
    jobAckWaitMs: config.jobAckWaitMs,
    jobsMaxQueuedPerClient: config.jobsMaxQueuedPerClient,
  });
  // A cluster that is still electing its JetStream leaders answers "temporarily unavailable":
  // wait for it (bounded) rather than fail the app's start.
  const deadline = Date.now() + 60_000;
  let buckets: ProvisionedBuckets;
  for (;;) {
    try {
      buckets = await provision(nc, defs, log);
      break;
    } catch (err) {
      if (!isNatsUnavailable(err) || Date.now() > deadline) throw err;
      log.warn({ err }, "JetStream not available yet; retrying provisioning");
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  return { nc, js: jetstream(nc), jsm: await jetstreamManager(nc), ...buckets, defs, state };
}
