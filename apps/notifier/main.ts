import { runService } from "../../libs/app/mod.ts";
import { notifierDeps } from "./deps.ts";
import { notifierPlugin } from "./plugin.ts";

// `npm run notifier`: the SSE notifier alone, against NATS_URL. Run several behind one address:
// any instance serves any client, and a client resumes on another with Last-Event-ID.
await runService({
  name: "herald-notifier",
  metricsLabel: "notifier",
  nats: "url",
  tokenSecret: "required", // it verifies the tokens the api signs
  // The drain ends every event stream first (spread over SSE_DRAIN_WINDOW): clients reconnect elsewhere.
  shutdownTimeoutMs: (config) => config.sseDrainWindowMs + 20_000,
  async start({ app, nats, config, metrics, log, tokens, readiness }) {
    const deps = notifierDeps(nats, tokens(), config, metrics, log);
    readiness.add("liveFeed", () => deps.feed.ready);
    await app.register(notifierPlugin, deps);
  },
});
