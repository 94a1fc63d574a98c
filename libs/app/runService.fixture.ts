import { runService } from "./runService.ts";

// A service for runService.test.ts, run as its own process: FIXTURE_NATS says where NATS comes
// from ("url" or "none"), FIXTURE_TOKEN_SECRET=required makes TOKEN_SECRET mandatory. It serves
// GET /hello and runs a part beside its server whose stop is logged.
await runService({
  name: "fixture",
  metricsLabel: "fixture",
  nats: process.env.FIXTURE_NATS === "none" ? "none" : "url",
  ...(process.env.FIXTURE_TOKEN_SECRET === "required" ? { tokenSecret: "required" as const } : {}),
  async start({ app, log }) {
    app.get("/hello", async () => ({ hello: "world" }));
    return async () => log.info("beside stopped");
  },
});
