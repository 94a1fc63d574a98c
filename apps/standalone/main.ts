import { runService } from "../../libs/app/mod.ts";
import { apiPlugin } from "../api/plugin.ts";
import { apiDeps } from "../api/deps.ts";
import { notifierDeps } from "../notifier/deps.ts";
import { notifierPlugin } from "../notifier/plugin.ts";
import { webPlugin } from "../web/plugin.ts";
import { startWorker } from "../worker/worker.ts";
import { workerDeps } from "../worker/deps.ts";

/**
 * `npm start`: herald in one process. With no NATS_URL it starts its own nats-server (JetStream
 * store under DATA_DIR/nats) as a child, then serves the web page, the API and the SSE notifier on
 * PORT and runs a worker, all against that server. Ctrl-C stops everything, the child included.
 */
await runService({
  name: "herald",
  metricsLabel: "herald",
  nats: "embedded",
  tokenSecret: "generated", // a laptop needs no set-up: one is kept in DATA_DIR
  shutdownTimeoutMs: (config) => config.sseDrainWindowMs + config.workerShutdownGraceMs + 20_000,
  async start({ app, nats, config, log, metrics, tokens, jobRegistry, readiness }) {
    const registry = await jobRegistry();
    await app.register(apiPlugin, apiDeps(nats, tokens(), registry, config, metrics));
    const notifier = notifierDeps(nats, tokens(), config, metrics, log);
    readiness.add("liveFeed", () => notifier.feed.ready);
    await app.register(notifierPlugin, notifier);
    await app.register(webPlugin);
    const worker = await startWorker(workerDeps(nats, registry, config, log, metrics), config.workerConcurrency);
    return () => worker.stop(config.workerShutdownGraceMs);
  },
  onListening(address, { log, nats }) {
    log.info({ url: address, nats: nats.nc.getServer() }, "herald is ready");
    process.stdout.write(`\nherald is running at ${address}  (Ctrl-C to stop)\n\n`);
  },
});
