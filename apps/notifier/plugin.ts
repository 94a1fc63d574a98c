import type { FastifyPluginAsync, FastifyReply } from "fastify";
import { HeraldError, InvalidInputError, isJobId, RESULTS_STREAM } from "../../libs/contracts/mod.ts";
import { authenticate } from "../../libs/auth/mod.ts";
import { shedIdleStreamState, tokenSecurity } from "../../libs/http/mod.ts";
import type { Logger } from "../../libs/log/mod.ts";
import { StreamShedError } from "./admission.ts";
import type { NotifierDeps } from "./deps.ts";
import { EventStream, readsResults, type StreamEnd } from "./eventStream.ts";
import { flattenRetainedStrings } from "./flattenRetainedStrings.ts";
import { jobStreamStart } from "./jobStreamStart.ts";
import { resumeFrom, type ResumeFrom } from "./lastEventId.ts";
import { SseSink } from "./sseSink.ts";

/** A request whose Accept rules out an event stream gets a 406 in herald's format. */
function acceptsEventStream(accept: string | undefined): void {
  if (accept === undefined || accept.trim() === "") return;
  const types = accept.split(",").map((t) => t.split(";")[0]!.trim().toLowerCase());
  if (types.some((t) => t === "text/event-stream" || t === "text/*" || t === "*/*")) return;
  throw new HeraldError(406, "not_acceptable", "this route answers only text/event-stream");
}

/** The last `retry:` a draining notifier gives a stream is drawn from [0, this]. */
const DRAIN_LAST_RETRY_MS = 500;

/**
 * The SSE notifier: `GET /v1/events` (every event of the caller) and `GET /v1/jobs/:id/events`
 * (one job, from its first event, ending after its terminal one). Any instance serves any client.
 */
export const notifierPlugin: FastifyPluginAsync<NotifierDeps> = async (app, deps) => {
  // A stopping notifier hands its clients over gradually (the server turns new requests away
  // meanwhile); the last `retry:` of each stream is short, the slices keep the rate steady.
  app.addHook("preClose", async () => deps.hub.drain(deps.drainWindowMs, Math.min(deps.retryMs, DRAIN_LAST_RETRY_MS)));
  // Live events published while NATS was down were missed: every stream ends (its client resumes
  // with a replay), and new ones are turned away (503) until the feed knows where it is again.
  const unwatch = deps.natsState.onChange((e) => {
    if (e === "disconnected") deps.feed.down();
    else deps.feed.up();
  });
  await deps.feed.start();
  // A new RESULTS leader: events the old one stored in its last moments may never have been
  // republished live. The feed reads them from the new leader (holes above are filled anyway).
  const leaderChanges = deps.nc.subscribe(`$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.${RESULTS_STREAM}`, {
    callback: () => {
      app.log.warn({ streams: deps.hub.size }, "RESULTS has a new leader; checking for events not republished");
      void deps.feed.checkTail();
    },
  });
  const stopHeartbeats = deps.hub.startHeartbeats(deps.heartbeatMs);
  app.addHook("onClose", async () => {
    stopHeartbeats();
    unwatch();
    leaderChanges.unsubscribe();
    deps.feed.stop();
  });

  // One function for every stream's end (it is given the stream): not a closure per stream.
  const streamEnded = (end: StreamEnd, stream: EventStream) => {
    deps.metrics.sseConnections.set(deps.hub.size);
    deps.metrics.sseReplayedEvents.inc(stream.replayed);
    if (end === "slow_client") deps.metrics.sseSlowClientDisconnects.inc();
    else if (end === "error") deps.metrics.sseStreamErrors.inc();
  };

  /**
   * No stream without the live feed (NATS down, or the feed starting over). Not a 200 that ends at
   * once: every client would come straight back, and each try would count as served. A 503 with a
   * jittered Retry-After spreads them out (the client library and the web page wait that long; a
   * bare EventSource stops, see the README).
   */
  const requireFeed = () => {
    if (deps.feed.ready) return;
    deps.metrics.sseShed.inc({ reason: "nats_unavailable" });
    throw new StreamShedError("nats_unavailable", deps.admission.retryAfter());
  };

  const serve = async (reply: FastifyReply, clientId: string, from: ResumeFrom, jobId?: string) => {
    if (deps.hub.streamsOf(clientId) >= deps.maxStreamsPerClient) {
      throw new HeraldError(
        429,
        "too_many_streams",
        `at most ${deps.maxStreamsPerClient} event streams per client; close one first`,
        {
          "retry-after": "5",
        },
      );
    }
    requireFeed();
    // A stream that resumes reads RESULTS first: those wait for a slot (or are shed). One that
    // starts live reads nothing and goes straight on, and so does a resume the live feed can vouch
    // for (no event of the client since its id: EventStream checks again as it registers).
    const resumes = from.kind !== "live" || jobId !== undefined;
    const reads = readsResults(deps.feed, clientId, from, jobId);
    let release: (() => void) | undefined;
    if (reads) {
      const gone = new AbortController();
      const onClose = () => gone.abort();
      reply.raw.once("close", onClose);
      try {
        release = await deps.admission.acquire(gone.signal);
      } catch (err) {
        if (err instanceof StreamShedError) deps.metrics.sseShed.inc({ reason: err.reason });
        throw err;
      } finally {
        reply.raw.off("close", onClose);
      }
      if (gone.signal.aborted) {
        release(); // the client left while it waited: nothing to answer
        reply.hijack();
        return;
      }
      if (!deps.feed.ready) {
        // The feed lost its place while this resume waited (NATS dropped, or a reset): a stream
        // registered now would get neither by replay nor live the events stored before the feed
        // knows again where RESULTS ends (docs/design.md, "The replay that loses nothing").
        release();
        requireFeed();
      }
    }
    const stream = new EventStream({
      feed: deps.feed,
      reads: deps.reads,
      clientId,
      ...(jobId ? { jobId } : {}),
      from,
      sink: new SseSink(reply),
      // Each stream its own reconnect delay, drawn from [½, 1½] × SSE_RETRY_MS: when a notifier
      // dies, its clients then come back spread over a window instead of in one instant (19,000
      // at once overflowed even a 4,096 accept queue, and TCP retried the dropped ones 1 s later).
      retryMs: Math.round(deps.retryMs * (0.5 + Math.random())),
      sendBufferBytes: deps.sendBufferBytes,
      log: reply.log as unknown as Logger,
      ...(resumes
        ? {
            onReplayed: () => {
              release?.();
              deps.metrics.sseResumeSeconds.observe(reply.elapsedTime / 1000);
            },
          }
        : {}),
    });
    // The handler returns once the stream is under way (its first frame written, so Fastify leaves
    // the response alone) and the stream goes on by itself: a handler, and everything its
    // suspended call chain holds, kept for each idle connection cost ~2 KB of heap.
    const underway = deps.hub.serve(stream, streamEnded);
    deps.metrics.sseConnections.set(deps.hub.size);
    await underway;
    flattenRetainedStrings(reply);
    // The connection carries this stream and nothing else now: what Node keeps for a next request
    // on it, and what handling this one needed, goes (~4 KB of RSS per idle stream).
    shedIdleStreamState(reply);
  };

  const stream = (summary: string, params?: object) => ({
    // No automatic HEAD route: HEAD would start a stream whose headers Node never sends (a HEAD
    // response is not sent before it ends), holding one of the client's stream slots.
    exposeHeadRoute: false,
    // Only the headers that matter to a stream (see createHttpServer).
    config: { securityHeaders: "stream" },
    schema: {
      tags: ["events"],
      summary,
      security: tokenSecurity,
      ...(params ? { params } : {}),
      querystring: {
        type: "object",
        properties: {
          lastEventId: {
            type: "string",
            description: "resume after this event id, or `earliest` (the Last-Event-ID header wins)",
          },
        },
      },
      headers: { type: "object", properties: { "last-event-id": { type: "string" } } },
      produces: ["text/event-stream"],
    },
  });
  // HEAD: what a GET would be (auth checked), without starting a stream. Registered by hand,
  // because an automatic HEAD route would start a stream whose headers Node never sends.
  for (const path of ["/v1/events", "/v1/jobs/:id/events"]) {
    app.head(path, { schema: { hide: true } }, async (request, reply) => {
      await authenticate(request, deps.tokens);
      return reply.header("content-type", "text/event-stream").header("cache-control", "no-cache").send();
    });
  }

  app.get(
    "/v1/events",
    stream("Server-Sent Events: every event of the caller's jobs, resuming after Last-Event-ID"),
    async (request, reply) => {
      acceptsEventStream(request.headers.accept);
      const clientId = await authenticate(request, deps.tokens);
      const from = resumeFrom(request);
      await serve(reply, clientId, from);
    },
  );

  app.get(
    "/v1/jobs/:id/events",
    stream("Server-Sent Events: one job's events from its first; ends after its terminal event (then 204)", {
      type: "object",
      properties: { id: { type: "string" } },
      required: ["id"],
    }),
    async (request, reply) => {
      acceptsEventStream(request.headers.accept);
      const clientId = await authenticate(request, deps.tokens);
      const jobId = (request.params as { id?: string }).id;
      if (!isJobId(jobId)) throw new InvalidInputError("the job id must be a ULID (26 characters)", "invalid_job_id");
      const from = resumeFrom(request);
      requireFeed(); // before the read below, which needs NATS too
      // The job has ended and the client has seen its end: 204 tells EventSource to stop reconnecting.
      if ((await jobStreamStart(deps.jsm, clientId, jobId, from)) === "end_seen") return reply.code(204).send();
      await serve(reply, clientId, from, jobId);
    },
  );
};
