import path from "node:path";
import { writeFileSync } from "node:fs";
import { loadConfig } from "../../libs/config/mod.ts";
import { createLogger } from "../../libs/log/mod.ts";
import { connectAndProvision, startEmbeddedServer, type EmbeddedServer, drainNats } from "../../libs/nats/mod.ts";
import { createTokens, loadOrCreateTokenSecret } from "../../libs/auth/mod.ts";
import { createJobRegistry, loadJobTypes } from "../../libs/jobs/mod.ts";
import { createHttpServer, drainAndClose, LISTEN_BACKLOG, opsPlugin } from "../../libs/http/mod.ts";
import { createMetrics } from "../../libs/metrics/mod.ts";
import { exitOnStartupError, loadConfigOrExit, onShutdown } from "../../libs/app/mod.ts";
import { apiPlugin } from "../api/plugin.ts";
import { apiDeps } from "../api/deps.ts";
import { notifierDeps } from "../notifier/deps.ts";
import { notifierPlugin } from "../notifier/plugin.ts";
import { webPlugin } from "../web/plugin.ts";
import { startWorker } from "../worker/worker.ts";
import { workerDeps } from "../worker/deps.ts";

/**
 * `npm start`: herald in one process. With no NATS_URL it starts its own nats-server (JetStream
 * store under DATA_DIR/nats) as a child, then serves the API and the SSE notifier on PORT and runs a worker, all
 * against that server. Ctrl-C stops everything, the child included.
 */
const config = await loadConfigOrExit(() => loadConfig());
const log = createLogger({ level: config.logLevel, name: "herald" });
let server: EmbeddedServer | null = null;
try {
  let servers = config.natsServers;
  if (servers.length === 0) {
    server = await startEmbeddedServer({ storeDir: path.join(config.dataDir, "nats"), bin: config.natsServerBin });
    servers = [server.url];
    // Tools (npm run dlq) find this server here when NATS_URL is not set.
    writeFileSync(path.join(config.dataDir, "nats-url"), `${server.url}\n`);
    log.info({ url: server.url, version: server.version, natsPid: server.pid, storeDir: path.join(config.dataDir, "nats") }, "started embedded nats-server");
  }
  const secrets = config.tokenSecrets.length ? config.tokenSecrets : [loadOrCreateTokenSecret(config.dataDir, log)];
  const nats = await connectAndProvision(config, servers, "herald", log);
  const registry = createJobRegistry(await loadJobTypes(config.workerJobs));

  const app = createHttpServer({ log, config });
  const tokens = createTokens(secrets, config.tokenTtlMs);
  const metrics = createMetrics("herald");
  await app.register(opsPlugin, { metrics, nats });
  await app.register(apiPlugin, apiDeps(nats, tokens, registry, config, metrics));
  await app.register(notifierPlugin, notifierDeps(nats, tokens, config, metrics, log));
  await app.register(webPlugin);
  const worker = await startWorker(workerDeps(nats, registry, config, log, metrics), config.workerConcurrency);
  const address = await app.listen({ host: config.host, port: config.port, backlog: LISTEN_BACKLOG });
  log.info({ url: address, nats: servers.join(",") }, "herald is ready");
  process.stdout.write(`\nherald is running at ${address}  (Ctrl-C to stop)\n\n`);

  onShutdown(log, async () => {
    await drainAndClose(app);
    await worker.stop(config.workerShutdownGraceMs);
    await drainNats(nats.nc, log);
    await server?.stop();
  }, config.sseDrainWindowMs + config.workerShutdownGraceMs + 20_000);
} catch (err) {
  await server?.stop();
  exitOnStartupError(log, err);
}
