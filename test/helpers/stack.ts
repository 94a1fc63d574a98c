import { rmSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import { loadConfig, type Config } from "../../libs/config/mod.ts";
import { createLogger, type Logger } from "../../libs/log/mod.ts";
import { connectAndProvision, provisionTypeConsumers, type HeraldNats } from "../../libs/nats/mod.ts";
import { createTokens, type Tokens } from "../../libs/auth/mod.ts";
import { createJobRegistry, type JobRegistry, type JobType } from "../../libs/jobs/mod.ts";
import { createHttpServer, opsPlugin, Readiness } from "../../libs/http/mod.ts";
import { createMetrics, type Metrics } from "../../libs/metrics/mod.ts";
import { isTerminal, RESULTS_STREAM, resultSubject, type JobEvent } from "../../libs/contracts/mod.ts";
import { readLastEvent, type StoredEvent } from "../../libs/results/mod.ts";
import { apiPlugin } from "../../apps/api/plugin.ts";
import { apiDeps } from "../../apps/api/deps.ts";
import { startWorker, type Worker, type WorkerOptions } from "../../apps/worker/worker.ts";
import type { LookupAll } from "../../libs/webhooks/mod.ts";
import { notifierDeps } from "../../apps/notifier/deps.ts";
import type { Hub } from "../../apps/notifier/hub.ts";
import { notifierPlugin } from "../../apps/notifier/plugin.ts";
import type { LiveFeed } from "../../apps/notifier/liveFeed.ts";
import type { Admission } from "../../apps/notifier/admission.ts";
import { webPlugin } from "../../apps/web/plugin.ts";
import { workerDeps } from "../../apps/worker/deps.ts";
import { startTestNats, type TestNats } from "./nats.ts";

export const TEST_SECRET = "test-secret-that-is-at-least-32-bytes-long!";

export interface TestNotifier {
  url: string;
  metrics: Metrics;
  hub: Hub;
  /** Its live feed: `watermark` says which events it has seen. */
  feed: LiveFeed;
  /** Its resume admission: `waiting` says how many resumes wait for a slot. */
  admission: Admission;
  nats: HeraldNats;
  app: FastifyInstance;
  /** Stops it as SIGTERM would: ends its streams, closes the server, drains NATS. */
  stop(): Promise<void>;
}

export interface Stack {
  server: TestNats;
  nats: HeraldNats;
  config: Config;
  log: Logger;
  tokens: Tokens;
  registry: JobRegistry;
  app: FastifyInstance;
  /** The API's and workers' metrics (each notifier has its own). */
  metrics: Metrics;
  /** http://127.0.0.1:<port> of the API. */
  url: string;
  workers: Worker[];
  /** Starts one more worker (in this process, its own NATS connection's JetStream context). */
  addWorker(concurrency?: number): Promise<Worker>;
  /** Starts a notifier instance on its own port with its own NATS connection. */
  addNotifier(env?: Record<string, string>): Promise<TestNotifier>;
  /** A new client: its id, token and Authorization header. */
  client(): Promise<{ clientId: string; token: string; auth: { authorization: string } }>;
  /** fetch against the API. */
  http(path: string, init?: RequestInit): Promise<Response>;
  /** POST /v1/jobs as a client; returns the parsed body (throws if not 202). */
  submit(auth: { authorization: string }, type: string, payload?: unknown): Promise<{ jobId: string; eventId: number }>;
  /** Polls RESULTS until the job's last event is terminal. */
  waitForTerminal(clientId: string, jobId: string, timeoutMs?: number): Promise<StoredEvent>;
  /**
   * Stops the nats-server (SIGTERM, or SIGKILL: nothing flushed after the kill), keeps it down for
   * `downMs`, and starts it again on the same store and port; every connection reconnects.
   */
  restartNats(opts?: { signal?: "SIGTERM" | "SIGKILL"; downMs?: number }): Promise<void>;
  /** Every stored event of a job, in order (ordered consumer on its subject). */
  events(clientId: string, jobId: string): Promise<StoredEvent[]>;
  close(): Promise<void>;
}

export interface StackOptions {
  env?: Record<string, string>;
  /** Where the stack's log lines go (e.g. to check what is logged); with it, LOG_LEVEL defaults to info. */
  logDestination?: { write(line: string): void };
  workers?: number;
  workerConcurrency?: number;
  /** Options of every worker the stack starts (e.g. how often it lists the capped types' consumers). */
  workerOptions?: WorkerOptions;
  jobTypes?: JobType[];
  /** Serve the web page at / (as the api does). */
  web?: boolean;
  /** How the api resolves webhook hosts (default: the system's resolver). */
  webhookLookup?: LookupAll;
}

/** A real nats-server, the API on a loopback port, and in-process workers: herald as tests see it. */
export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const server = await startTestNats();
  const configEnv = {
    TOKEN_SECRET: TEST_SECRET,
    JOB_RETRY_BACKOFF: "50ms",
    PROGRESS_INTERVAL_MS: "20",
    SSE_RETRY_MS: "50",
    // Tests create many clients and jobs from one address; the limits have tests of their own.
    RATE_LIMIT_CLIENTS: "0",
    RATE_LIMIT_JOBS: "0",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? (opts.logDestination ? "info" : "silent"),
    ...opts.env,
  };
  const config = loadConfig(configEnv);
  const log = createLogger({
    level: config.logLevel,
    name: "test",
    ...(opts.logDestination ? { destination: opts.logDestination } : {}),
  });
  const nats = await connectAndProvision(config, [server.url], "test-api", log);
  const tokens = createTokens(config.tokenSecrets, config.tokenTtlMs);
  const registry = createJobRegistry(opts.jobTypes ?? []);
  // As runService does when an app loads its job types.
  await provisionTypeConsumers(nats.jsm, nats.defs, registry.caps(), log);
  const app = createHttpServer({ log, config });
  const metrics = createMetrics("test");
  await app.register(opsPlugin, { metrics, nats });
  await app.register(apiPlugin, {
    ...apiDeps(nats, tokens, registry, config, metrics),
    ...(opts.webhookLookup ? { webhookLookup: opts.webhookLookup } : {}),
  });
  if (opts.web) await app.register(webPlugin);
  const url = (await app.listen({ host: "127.0.0.1", port: 0 })).replace("localhost", "127.0.0.1");

  const workers: Worker[] = [];
  const workerConnections: HeraldNats[] = [];
  const addWorker = async (concurrency = opts.workerConcurrency ?? 4) => {
    const wn = await connectAndProvision(config, [server.url], `test-worker-${workers.length}`, log);
    workerConnections.push(wn);
    const w = await startWorker(workerDeps(wn, registry, config, log, metrics), concurrency, opts.workerOptions);
    workers.push(w);
    return w;
  };
  for (let i = 0; i < (opts.workers ?? 0); i++) await addWorker();

  const http = (path: string, init?: RequestInit) => fetch(`${url}${path}`, init);

  const notifiers: TestNotifier[] = [];
  const addNotifier = async (env: Record<string, string> = {}) => {
    const nConfig = loadConfig({ ...configEnv, ...env });
    const nn = await connectAndProvision(nConfig, [server.url], `test-notifier-${notifiers.length}`, log);
    const nApp = createHttpServer({ log, config: nConfig });
    const nMetrics = createMetrics("test-notifier");
    const deps = notifierDeps(nn, tokens, nConfig, nMetrics, log);
    const readiness = new Readiness();
    readiness.add("liveFeed", () => deps.feed.ready);
    await nApp.register(opsPlugin, { metrics: nMetrics, nats: nn, readiness });
    await nApp.register(notifierPlugin, deps);
    const nUrl = (await nApp.listen({ host: "127.0.0.1", port: 0 })).replace("localhost", "127.0.0.1");
    let stopped: Promise<void> | null = null;
    const n: TestNotifier = {
      url: nUrl,
      metrics: nMetrics,
      hub: deps.hub,
      feed: deps.feed,
      admission: deps.admission,
      nats: nn,
      app: nApp,
      stop: () =>
        (stopped ??= (async () => {
          await nApp.close();
          await nn.nc.drain().catch(() => undefined);
        })()),
    };
    notifiers.push(n);
    return n;
  };

  const storeDir = server.storeDir;
  const stack: Stack = {
    server,
    nats,
    config,
    log,
    tokens,
    registry,
    app,
    metrics,
    url,
    workers,
    addWorker,
    addNotifier,
    http,
    async client() {
      const res = await http("/v1/clients", { method: "POST" });
      if (res.status !== 201) throw new Error(`POST /v1/clients: ${res.status}`);
      const body = (await res.json()) as { clientId: string; token: string };
      return { ...body, auth: { authorization: `Bearer ${body.token}` } };
    },
    async submit(auth, type, payload) {
      const res = await http("/v1/jobs", {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ type, payload }),
      });
      const body = await res.json();
      if (res.status !== 202) throw new Error(`POST /v1/jobs ${type}: ${res.status} ${JSON.stringify(body)}`);
      return body as { jobId: string; eventId: number };
    },
    async waitForTerminal(clientId, jobId, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const last = await readLastEvent(nats.jsm, clientId, jobId);
        if (last && isTerminal(last.event.event)) return last;
        if (Date.now() > deadline)
          throw new Error(`job ${jobId} did not end in ${timeoutMs}ms (last: ${last?.event.event})`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async restartNats({ signal = "SIGTERM", downMs = 0 } = {}) {
      const old = stack.server;
      if (signal === "SIGKILL") {
        const exited = new Promise((r) => old.process.once("exit", r));
        old.process.kill("SIGKILL");
        await exited;
      } else {
        await old.stop();
      }
      await new Promise((r) => setTimeout(r, downMs));
      const next = await startTestNats({ storeDir, port: old.port });
      // Back when the stack's own connection has reconnected and JetStream answers it.
      for (const deadline = Date.now() + 15_000; ; ) {
        try {
          await nats.jsm.streams.info(RESULTS_STREAM);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      // Closing the stack removes the store, as the first server's close would have.
      stack.server = {
        ...next,
        async close() {
          await next.close();
          rmSync(storeDir, { recursive: true, force: true });
        },
      };
    },
    async events(clientId, jobId) {
      // Direct gets, one after another: independent of the notifier's reader, and no consumer left behind.
      const out: StoredEvent[] = [];
      for (let seq = 1; ; ) {
        const m = await nats.jsm.direct.getMessage(RESULTS_STREAM, {
          seq,
          next_by_subj: resultSubject(clientId, jobId),
        });
        if (!m) return out;
        out.push({ seq: m.seq, event: m.json<JobEvent>() });
        seq = m.seq + 1;
      }
    },
    async close() {
      await Promise.allSettled(notifiers.map((n) => n.stop()));
      await Promise.allSettled(workers.map((w) => w.stop()));
      await app.close();
      await Promise.allSettled(workerConnections.map((w) => w.nc.close()));
      await nats.nc.close();
      await stack.server.close();
    },
  };
  return stack;
}

/** The event names of a job, in order: what a user reads as its story. */
export function eventNames(events: StoredEvent[]): string[] {
  return events.map((e) => e.event.event);
}
