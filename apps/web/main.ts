import { runService } from "../../libs/app/mod.ts";
import { webPlugin } from "./plugin.ts";

// `npm run web`: the web page alone, for the multi-process deployment, where nginx sends the page's
// paths here and the rest to the api and the notifiers (compose.yaml, deploy/nginx). The page is
// its own app so that the api serves only the API and no app imports another; it is static, so
// this process needs no NATS and no secrets. (`npm start` serves the page itself.)
await runService({
  name: "herald-web",
  metricsLabel: "web",
  nats: "none",
  async start({ app }) {
    await app.register(webPlugin);
  },
});
