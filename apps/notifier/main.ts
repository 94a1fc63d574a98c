import { loadConfig, requireTokenSecrets } from "../../libs/config/mod.ts";
import { createLogger } from "../../libs/log/mod.ts";
import { connectAndProvision, drainNats } from "../../libs/nats/mod.ts";
import { createTokens } from "../../libs/auth/mod.ts";
import { createHttpServer, drainAndClose, LISTEN_BACKLOG, opsPlugin } from "../../libs/http/mod.ts";
import { createMetrics } from "../../libs/metrics/mod.ts";
import { exitOnStartupError, loadConfigOrExit, onShutdown } from "../../libs/app/mod.ts";
import { notifierDeps } from "./deps.ts";
import { notifierPlugin } from "./plugin.ts";

// `npm run notifier`: the SSE notifier alone, against NATS_URL. Run several behind one address:
// any instance serves any client, and a client resumes on another with Last-Event-ID.
const config = await loadConfigOrExit(() => {
  const c = loadConfig();
  requireTokenSecrets(c);
  return c;
});
const log = createLogger({ level: config.logLevel, name: "herald-notifier" });
try {
  const servers = config.natsServers.length ? config.natsServers : ["nats://127.0.0.1:4222"];
  const nats = await connectAndProvision(config, servers, "herald-notifier", log);
  const app = createHttpServer({ log, config });
  const metrics = createMetrics("notifier");
  await app.register(opsPlugin, { metrics, nats });
  await app.register(notifierPlugin, notifierDeps(nats, createTokens(config.tokenSecrets, config.tokenTtlMs), config, metrics, log));
  await app.listen({ host: config.host, port: config.port, backlog: LISTEN_BACKLOG });
  onShutdown(log, async () => {
    await drainAndClose(app); // ends every event stream first: clients reconnect elsewhere
    await drainNats(nats.nc, log);
  }, config.sseDrainWindowMs + 20_000);
} catch (err) {
  exitOnStartupError(log, err);
}
