import type { FastifyPluginAsync } from "fastify";
import rateLimit from "@fastify/rate-limit";
import { HeraldError } from "../../libs/contracts/mod.ts";
import type { ApiDeps } from "./deps.ts";
import { ErrorBodySchema, JobStateSchema } from "../../libs/contracts/schemas.ts";
import { clientRoutes } from "./routes/clients.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { jobTypeRoutes } from "./routes/jobTypes.ts";
import { webhookRoutes } from "./routes/webhooks.ts";

/** The API: client identities and jobs. Registered by apps/api/main.ts and by the one-process mode. */
export const apiPlugin: FastifyPluginAsync<ApiDeps> = async (app, deps) => {
  // Limits are per route (see the routes); counted in this process's memory, so with N api
  // instances a client gets up to N times the limit (docs/security.md).
  await app.register(rateLimit, {
    global: false,
    // After authentication (onRequest), so that a job's limit is its client's, not its IP's.
    hook: "preHandler",
    errorResponseBuilder: (_request, ctx) =>
      new HeraldError(429, "rate_limited", `too many requests: at most ${ctx.max} per minute; retry in ${ctx.after}`, {
        "retry-after": String(Math.max(1, Math.ceil(ctx.ttl / 1000))),
      }),
  });
  // The shapes routes refer to by $id (`Error#`, `JobState#`): one component each in the OpenAPI document.
  app.addSchema(ErrorBodySchema);
  app.addSchema(JobStateSchema);
  // Waits for jobs (GET /v1/jobs/:id?wait=) would hold a stop for up to a minute: a stopping api
  // answers them at once with the state as it is (the client asks again, elsewhere). Without NATS
  // nothing can be read: they are answered 503.
  app.addHook("preClose", async () => deps.waiters.releaseAll("released"));
  const unwatch = deps.natsState.onChange((e) => {
    if (e === "disconnected") deps.waiters.releaseAll("nats_down");
  });
  app.addHook("onClose", async () => {
    unwatch();
    deps.waiters.stop();
  });
  await app.register(clientRoutes, deps);
  await app.register(jobRoutes, deps);
  await app.register(jobTypeRoutes, deps);
  await app.register(webhookRoutes, deps);
};
