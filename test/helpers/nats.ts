import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";
import { createLogger } from "../../libs/log/mod.ts";
import { RESULTS_STREAM, WEBHOOK_DISPATCH_CONSUMER } from "../../libs/contracts/mod.ts";
import {
  connectNats,
  loadDefinitions,
  provision,
  type DefinitionOverrides,
  type EmbeddedServer,
} from "../../libs/nats/mod.ts";
import { startNatsServer } from "../../scripts/launcher/mod.ts";

export interface TestNats extends EmbeddedServer {
  storeDir: string;
  /** Stops the server and removes its store. */
  close(): Promise<void>;
}

/**
 * A real nats-server with JetStream for one test file: free port chosen by the server itself,
 * a temporary store, monitoring on (connz/subsz for leak checks). Stop it in afterAll; started
 * through the launcher, it is also killed if the test process ends first.
 */
export async function startTestNats(opts: { storeDir?: string; port?: number } = {}): Promise<TestNats> {
  const storeDir = opts.storeDir ?? mkdtempSync(path.join(tmpdir(), "herald-nats-"));
  const server = await startNatsServer({
    storeDir,
    monitor: true,
    // A restart on the same store and port (apps reconnect to the URL they had).
    ...(opts.port !== undefined ? { port: opts.port } : {}),
  });
  return {
    ...server,
    storeDir,
    async close() {
      await server.stop();
      if (!opts.storeDir) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

export interface ProvisionedNats {
  server: TestNats;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  idempotency: KV;
  webhookConfig: KV;
  webhookStatus: KV;
  /** Closes the connection, then stops the server. */
  close(): Promise<void>;
}

/**
 * A test nats-server with herald's streams, consumer and bucket provisioned (one replica, results
 * kept an hour), and a connection to it: what a test of one module that reads or writes JetStream
 * starts from.
 */
export async function startProvisionedNats(
  name: string,
  overrides: Partial<DefinitionOverrides> = {},
): Promise<ProvisionedNats> {
  const server = await startTestNats();
  const log = createLogger({ level: "silent" });
  const nc = await connectNats({ servers: [server.url], name, log });
  const defaults = { replicas: 1, resultsMaxAgeMs: 3_600_000, jobAckWaitMs: 10_000, jobsMaxQueuedPerClient: 10_000 };
  const buckets = await provision(nc, loadDefinitions({ ...defaults, ...overrides }), log);
  return {
    server,
    nc,
    ...buckets,
    js: jetstream(nc),
    jsm: await jetstreamManager(nc),
    async close() {
      await nc.close();
      await server.close();
    },
  };
}

/**
 * The consumers on RESULTS besides herald's one durable (`webhook-dispatch`): the replays' own,
 * which must be gone once a replay ends.
 */
export async function replayConsumers(jsm: JetStreamManager): Promise<string[]> {
  const names: string[] = [];
  for await (const c of jsm.consumers.list(RESULTS_STREAM))
    if (c.name !== WEBHOOK_DISPATCH_CONSUMER) names.push(c.name);
  return names;
}
