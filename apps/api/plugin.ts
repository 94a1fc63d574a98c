import type { FastifyPluginAsync } from "fastify";
import type { ApiDeps } from "./deps.ts";
import { clientRoutes } from "./routes/clients.ts";
import { jobRoutes } from "./routes/jobs.ts";

/** The API: client identities and jobs. Registered by apps/api/main.ts and by the one-process mode. */
export const apiPlugin: FastifyPluginAsync<ApiDeps> = async (app, deps) => {
  await app.register(clientRoutes, { tokens: deps.tokens });
  await app.register(jobRoutes, deps);
};
