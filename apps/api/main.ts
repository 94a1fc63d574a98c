import { runService } from "../../libs/app/mod.ts";
import { apiPlugin } from "./plugin.ts";
import { apiDeps } from "./deps.ts";

// `npm run api`: the HTTP API alone, against NATS_URL. The web page is an app of its own
// (`npm run web`, apps/web/main.ts).
await runService({
  name: "herald-api",
  metricsLabel: "api",
  nats: "url",
  tokenSecret: "required", // the notifiers verify what this api signs
  async start({ app, nats, config, metrics, tokens, jobRegistry }) {
    await app.register(apiPlugin, apiDeps(nats, tokens(), await jobRegistry(), config, metrics));
  },
});
