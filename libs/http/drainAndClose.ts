import type { FastifyInstance } from "fastify";

/** The servers that are draining: createHttpServer's hooks answer their new requests 503. */
const draining = new WeakSet<FastifyInstance>();

/** True once drainAndClose has begun on this server. */
export function isDraining(app: FastifyInstance): boolean {
  return draining.has(app);
}

/**
 * Graceful stop: new requests get 503 + Retry-After (a load balancer or client retries elsewhere),
 * requests in flight finish, `preClose` hooks run (the notifier ends its streams), then the
 * server closes.
 */
export async function drainAndClose(app: FastifyInstance): Promise<void> {
  draining.add(app);
  // Each step of a stop is logged: a stop that hangs then says where (onShutdown's timeout).
  app.log.info("HTTP server draining");
  await app.close();
  app.log.info("HTTP server closed");
}
