import { loadConfig } from "../../libs/config/mod.ts";
import { createLogger } from "../../libs/log/mod.ts";
import { connectAndProvision, drainNats } from "../../libs/nats/mod.ts";
import { createJobRegistry, loadJobTypes } from "../../libs/jobs/mod.ts";
import { exitOnStartupError, loadConfigOrExit, onShutdown } from "../../libs/app/mod.ts";
import { createHttpServer, drainAndClose, opsPlugin } from "../../libs/http/mod.ts";
import { createMetrics } from "../../libs/metrics/mod.ts";
import { startWorker } from "./worker.ts";
import { workerDeps } from "./deps.ts";

// `npm run worker`: one worker process, against NATS_URL. Run more of them to scale.
const config = await loadConfigOrExit(() => loadConfig());
const log = createLogger({ level: config.logLevel, name: "herald-worker" });
try {
  const servers = config.natsServers.length ? config.natsServers : ["nats://127.0.0.1:4222"];
  const nats = await connectAndProvision(config, servers, "herald-worker", log);
  const registry = createJobRegistry(await loadJobTypes(config.workerJobs));
  const metrics = createMetrics("worker");
  const worker = await startWorker(workerDeps(nats, registry, config, log, metrics), config.workerConcurrency);
  // The worker's HTTP port serves only /healthz, /readyz and /metrics.
  const ops = createHttpServer({ log, config });
  await ops.register(opsPlugin, { metrics, nats });
  await ops.listen({ host: config.host, port: config.port });
  onShutdown(log, async () => {
    await drainAndClose(ops);
    await worker.stop(config.workerShutdownGraceMs);
    await drainNats(nats.nc, log);
  }, config.workerShutdownGraceMs + 20_000);
} catch (err) {
  exitOnStartupError(log, err);
}
