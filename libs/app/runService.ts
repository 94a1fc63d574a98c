import path from "node:path";
import { writeFileSync } from "node:fs";
import { loadConfig, requireTokenSecrets, type Config } from "../config/mod.ts";
import { createLogger, type Logger } from "../log/mod.ts";
import {
  connectAndProvision,
  drainNats,
  provisionTypeConsumers,
  serversOrDefault,
  startEmbeddedServer,
  type EmbeddedServer,
  type HeraldNats,
} from "../nats/mod.ts";
import { createTokens, loadOrCreateTokenSecret, type Tokens } from "../auth/mod.ts";
import { createJobRegistry, loadJobTypes } from "../jobs/mod.ts";
import { createHttpServer, drainAndClose, opsPlugin, Readiness } from "../http/mod.ts";
import { createMetrics } from "../metrics/mod.ts";
import { exitOnStartupError, loadConfigOrExit, onShutdown } from "./lifecycle.ts";
import { LISTEN_BACKLOG } from "./listenBacklog.ts";
import type { NatsSource, Service, ServiceParts } from "./service.ts";

/**
 * Runs one herald process: the configuration (every bad variable reported at once, before anything
 * starts), the logger, NATS (connected, streams provisioned; in one-process mode a nats-server of
 * its own first), the HTTP server with /healthz, /readyz and /metrics, the service's own plugins,
 * listen, and on SIGINT/SIGTERM a drain in order: HTTP (new requests 503, requests in flight
 * finish), what runs beside it (a worker), NATS, the embedded nats-server. A start-up failure is
 * logged and exits 1.
 * The design: docs/design.md, "The service runner".
 */
export async function runService<S extends NatsSource>(service: Service<S>): Promise<void> {
  const config = await loadConfigOrExit(() => {
    const c = loadConfig();
    if (service.tokenSecret === "required") requireTokenSecrets(c);
    return c;
  });
  const log = createLogger({ level: config.logLevel, name: service.name });
  let embedded: EmbeddedServer | null = null;
  try {
    let nats: HeraldNats | null = null;
    if (service.nats !== "none") {
      let servers = serversOrDefault(config);
      if (service.nats === "embedded" && config.natsServers.length === 0) {
        embedded = await startOwnNatsServer(config, log);
        servers = [embedded.url];
      }
      nats = await connectAndProvision(config, servers, service.name, log);
    }
    const app = createHttpServer({ log, config });
    const metrics = createMetrics(service.metricsLabel);
    const readiness = new Readiness();
    await app.register(opsPlugin, { metrics, nats, readiness });
    // (`nats` is null exactly when the service asked for none, which is what ServiceParts<S> says.)
    const parts = {
      config,
      log,
      nats,
      metrics,
      app,
      readiness,
      tokens: once(() => tokensFor(service, config, log)),
      jobRegistry: once(async () => {
        const registry = createJobRegistry(await loadJobTypes(config.workerJobs));
        // Whoever knows the job types makes sure each capped one has its consumer: the api queues
        // their jobs in the capped lane, the workers pull from it (docs/design.md, "Concurrency per type").
        if (nats) await provisionTypeConsumers(nats.jsm, nats.defs, registry.caps(), log);
        return registry;
      }),
    } as ServiceParts<S>;
    const stopBeside = await service.start(parts);
    const address = await app.listen({ host: config.host, port: config.port, backlog: LISTEN_BACKLOG });
    const ownServer = embedded;
    onShutdown(
      log,
      async () => {
        await drainAndClose(app); // new requests: 503 + Retry-After; requests in flight finish; streams end
        await stopBeside?.();
        if (nats) await drainNats(nats.nc, log);
        await ownServer?.stop();
      },
      service.shutdownTimeoutMs?.(config),
    );
    // Only now say that it runs: a Ctrl-C that follows the message at once must find the handler.
    // Without one, the kernel ends the process on SIGINT there and then, with no stop at all
    // (the standalone test's Ctrl-C right after "herald is running" did so once in CI).
    service.onListening?.(address, parts);
  } catch (err) {
    await embedded?.stop();
    exitOnStartupError(log, err);
  }
}

/**
 * One-process mode without NATS_URL: a nats-server child with its JetStream store under
 * DATA_DIR/nats. Its URL goes to DATA_DIR/nats-url, where tools (npm run dlq, herald inspect) find it.
 */
async function startOwnNatsServer(config: Config, log: Logger): Promise<EmbeddedServer> {
  const storeDir = path.join(config.dataDir, "nats");
  const server = await startEmbeddedServer({ storeDir, bin: config.natsServerBin });
  writeFileSync(path.join(config.dataDir, "nats-url"), `${server.url}\n`);
  log.info({ url: server.url, version: server.version, natsPid: server.pid, storeDir }, "started embedded nats-server");
  return server;
}

function tokensFor(service: Service<NatsSource>, config: Config, log: Logger): Tokens {
  const secrets =
    config.tokenSecrets.length === 0 && service.tokenSecret === "generated"
      ? [loadOrCreateTokenSecret(config.dataDir, log)]
      : config.tokenSecrets;
  return createTokens(secrets, config.tokenTtlMs);
}

/** `make`, called the first time only: a part is built when a service asks for it, and once. */
function once<T>(make: () => T): () => T {
  let made: { value: T } | null = null;
  return () => (made ??= { value: make() }).value;
}
