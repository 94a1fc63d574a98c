import type { NatsConnection } from "@nats-io/transport-node";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { Tokens } from "../../libs/auth/mod.ts";
import type { ConnectionState } from "../../libs/nats/mod.ts";
import type { Config } from "../../libs/config/mod.ts";
import type { Metrics } from "../../libs/metrics/mod.ts";
import type { Logger } from "../../libs/log/mod.ts";
import { Admission } from "./admission.ts";
import { Hub } from "./hub.ts";
import { LiveFeed } from "./liveFeed.ts";
import { natsLiveSource, natsResumeReads, type ResumeReads } from "./resumeReads.ts";

/** Everything the notifier's routes need, passed in explicitly (no globals). */
export interface NotifierDeps {
  nc: NatsConnection;
  jsm: JetStreamManager;
  /** Every live event, in order (started and stopped with the plugin). */
  feed: LiveFeed;
  reads: ResumeReads;
  admission: Admission;
  /** A stopping notifier ends its streams over this long (Hub.drain). */
  drainWindowMs: number;
  tokens: Tokens;
  hub: Hub;
  heartbeatMs: number;
  retryMs: number;
  sendBufferBytes: number;
  metrics: Metrics;
  /** Concurrent streams one client may hold on this instance (429 beyond). */
  maxStreamsPerClient: number;
  /** NATS up or down; on a disconnect every stream ends so that its client resumes with a replay. */
  natsState: Pick<ConnectionState, "connected" | "onChange">;
}

/** NotifierDeps from a connected NATS, the token service and the configuration. */
export function notifierDeps(
  nats: { nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager; state: ConnectionState },
  tokens: Tokens,
  config: Pick<
    Config,
    | "sseHeartbeatMs"
    | "sseRetryMs"
    | "sseSendBufferBytes"
    | "sseMaxStreamsPerClient"
    | "sseResumeConcurrency"
    | "sseResumeQueue"
    | "sseResumeQueueWaitMs"
    | "sseDrainWindowMs"
  >,
  metrics: Metrics,
  log: Logger,
  hub = new Hub(),
): NotifierDeps {
  return {
    nc: nats.nc,
    jsm: nats.jsm,
    feed: new LiveFeed(natsLiveSource(nats.nc, nats.jsm), log),
    reads: natsResumeReads(nats.js, nats.jsm),
    admission: new Admission({
      concurrency: config.sseResumeConcurrency,
      queue: config.sseResumeQueue,
      queueMs: config.sseResumeQueueWaitMs,
      retryAfterS: [1, 5],
    }),
    drainWindowMs: config.sseDrainWindowMs,
    tokens,
    hub,
    heartbeatMs: config.sseHeartbeatMs,
    retryMs: config.sseRetryMs,
    sendBufferBytes: config.sseSendBufferBytes,
    maxStreamsPerClient: config.sseMaxStreamsPerClient,
    natsState: nats.state,
    metrics,
  };
}
