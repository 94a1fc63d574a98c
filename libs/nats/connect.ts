import type { NatsConnection } from "@nats-io/transport-node";
import { connectCoalesced } from "./coalescedWrites.ts";
import type { Logger } from "pino";
import { assertSupportedServer, NatsServerTooOldError } from "./serverVersion.ts";

export interface ConnectOptions {
  servers: string[];
  /** Shown in the server's connz, e.g. `herald-api`. */
  name: string;
  log: Logger;
  /** Give up on the first connection after this long (default: 30 s). */
  firstConnectTimeoutMs?: number;
}

/**
 * Connects to NATS, retrying the first connection with backoff (a server started at the same time
 * as the app may not be up yet), then reconnecting forever: an app never gives up on NATS by itself.
 */
export async function connectNats(opts: ConnectOptions): Promise<NatsConnection> {
  const deadline = Date.now() + (opts.firstConnectTimeoutMs ?? 30_000);
  let delay = 100;
  for (let attempt = 1; ; attempt++) {
    try {
      const nc = await connectCoalesced({
        servers: opts.servers,
        name: opts.name,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        pingInterval: 10_000,
        // nats.js otherwise builds an Error per request (every JetStream publish, direct get and
        // pull) to keep the caller's stack for a timeout that almost never comes: measured at 8-11%
        // of the api's and the worker's CPU under load (bench --cpu-prof). A timeout still says
        // which request timed out; only its async stack is shorter.
        noAsyncTraces: true,
      });
      try {
        // Every app refuses a server below the floor, before it provisions or serves anything.
        assertSupportedServer(nc.info?.version ?? "", nc.getServer());
      } catch (err) {
        await nc.close().catch(() => undefined);
        throw err;
      }
      opts.log.info({ server: nc.getServer(), version: nc.info?.version, attempt }, "connected to NATS");
      return nc;
    } catch (err) {
      if (err instanceof NatsServerTooOldError || Date.now() + delay > deadline) throw err;
      opts.log.warn({ err, servers: opts.servers, attempt, retryInMs: delay }, "NATS not reachable yet; retrying");
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2_000);
    }
  }
}

/**
 * Drains the connection at shutdown (pending publishes and subscriptions are flushed). A drain
 * that fails — NATS went away during the stop — is logged, and the connection closed: the
 * process is leaving either way, and JetStream redelivers anything left unacknowledged.
 */
export async function drainNats(nc: NatsConnection, log: Logger): Promise<void> {
  try {
    await nc.drain();
    log.info("NATS connection drained");
  } catch (err) {
    log.warn({ err }, "NATS drain failed at shutdown; closing");
    await nc.close().catch(() => undefined);
  }
}
