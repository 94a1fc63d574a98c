import { runService } from "../../libs/app/mod.ts";
import { startWorker } from "./worker.ts";
import { workerDeps } from "./deps.ts";

// `npm run worker`: one worker process, against NATS_URL. Run more of them to scale. Its HTTP port
// serves only /healthz, /readyz and /metrics.
await runService({
  name: "herald-worker",
  metricsLabel: "worker",
  nats: "url",
  // Running jobs get WORKER_SHUTDOWN_GRACE to finish before they are handed back.
  shutdownTimeoutMs: (config) => config.workerShutdownGraceMs + 20_000,
  async start({ nats, config, log, metrics, jobRegistry }) {
    const worker = await startWorker(
      workerDeps(nats, await jobRegistry(), config, log, metrics),
      config.workerConcurrency,
    );
    return () => worker.stop(config.workerShutdownGraceMs);
  },
});
