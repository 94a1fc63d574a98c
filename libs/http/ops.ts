import type { FastifyPluginAsync } from "fastify";
import type {} from "@fastify/swagger"; // route schema fields: tags, summary
import type { JetStreamManager } from "@nats-io/jetstream";
import type { Metrics } from "../metrics/mod.ts";
import type { ConnectionState } from "../nats/mod.ts";
import { JOBS_STREAM, RESULTS_STREAM } from "../contracts/mod.ts";
import type { Readiness } from "./readiness.ts";

export interface OpsDeps {
  metrics: Metrics;
  /** The app's NATS connection; none for an app that does not use NATS (the web page's). */
  nats: { jsm: JetStreamManager; state: ConnectionState } | null;
  /** The app's own checks (e.g. the notifier's live feed), each a field of /readyz's `checks`. */
  readiness?: Readiness;
}

const STREAM_CHECK_TTL_MS = 1_000;

/**
 * What operators and orchestrators ask every app: `/healthz` (the process is alive), `/readyz`
 * (NATS connected, the streams present and the app's own checks true — 503 otherwise, and while
 * the app drains, so a load balancer stops sending to it), `/metrics` (Prometheus text). An app without NATS is ready
 * whenever it is not draining.
 */
export const opsPlugin: FastifyPluginAsync<OpsDeps> = async (app, { metrics, nats, readiness }) => {
  nats?.state.onChange((e) => {
    if (e === "reconnected") metrics.natsReconnects.inc();
  });

  let streamsCheckedAt = 0;
  let streamsPresent = false;
  const streamsOk = async (nats: NonNullable<OpsDeps["nats"]>): Promise<boolean> => {
    if (Date.now() - streamsCheckedAt < STREAM_CHECK_TTL_MS) return streamsPresent;
    try {
      await Promise.all([nats.jsm.streams.info(JOBS_STREAM), nats.jsm.streams.info(RESULTS_STREAM)]);
      streamsPresent = true;
    } catch {
      streamsPresent = false;
    }
    streamsCheckedAt = Date.now();
    return streamsPresent;
  };

  const ops = (summary: string) => ({ schema: { tags: ["operations"], summary } });
  app.get("/healthz", ops("The process is alive"), async () => ({ status: "ok" }));
  app.get(
    "/readyz",
    ops("NATS connected and streams present; 503 otherwise and while draining"),
    async (_request, reply) => {
      const own = readiness?.results() ?? {};
      const checks = nats
        ? { nats: nats.state.connected, streams: nats.state.connected && (await streamsOk(nats)), ...own }
        : own;
      const ready = Object.values(checks).every(Boolean);
      return reply.status(ready ? 200 : 503).send({ status: ready ? "ready" : "not ready", checks });
    },
  );
  app.get("/metrics", ops("Prometheus metrics"), async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
};
