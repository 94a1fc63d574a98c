import { loadConfig, requireTokenSecrets } from "../../libs/config/mod.ts";
import { createLogger } from "../../libs/log/mod.ts";
import { connectAndProvision, drainNats } from "../../libs/nats/mod.ts";
import { createTokens } from "../../libs/auth/mod.ts";
import { createJobRegistry, loadJobTypes } from "../../libs/jobs/mod.ts";
import { createHttpServer, drainAndClose, LISTEN_BACKLOG, opsPlugin } from "../../libs/http/mod.ts";
import { createMetrics } from "../../libs/metrics/mod.ts";
import { exitOnStartupError, loadConfigOrExit, onShutdown } from "../../libs/app/mod.ts";
import { apiPlugin } from "./plugin.ts";
import { apiDeps } from "./deps.ts";
import { webPlugin } from "../web/plugin.ts";

// `npm run api`: the HTTP API alone, against NATS_URL.
const config = await loadConfigOrExit(() => {
  const c = loadConfig();
  requireTokenSecrets(c);
  return c;
});
const log = createLogger({ level: config.logLevel, name: "herald-api" });
try {
  const servers = config.natsServers.length ? config.natsServers : ["nats://127.0.0.1:4222"];
  const nats = await connectAndProvision(config, servers, "herald-api", log);
  const app = createHttpServer({ log, config });
  const tokens = createTokens(config.tokenSecrets, config.tokenTtlMs);
  const registry = createJobRegistry(await loadJobTypes(config.workerJobs));
  const metrics = createMetrics("api");
  await app.register(opsPlugin, { metrics, nats });
  await app.register(apiPlugin, apiDeps(nats, tokens, registry, config, metrics));
  await app.register(webPlugin);
  await app.listen({ host: config.host, port: config.port, backlog: LISTEN_BACKLOG });
  onShutdown(log, async () => {
    await drainAndClose(app); // new requests: 503 + Retry-After; requests in flight finish
    await drainNats(nats.nc, log);
  });
} catch (err) {
  exitOnStartupError(log, err);
}
