/**
 * Webhook deliveries to a local receiver, and what they cost per job (issue 17):
 *
 *   node --import tsx bench/webhooks.ts [--steps=100,200,300,350,400,500] [--step-s=4]
 *     [--cost-rate=200] [--cost-jobs=1000] [--webhook-concurrency=N] [--skip-cost]
 *
 * Starts a nats-server, one api and one worker (scripts/launcher, through bench/procs.ts; the worker
 * with WORKER_CONCURRENCY=8 and the webhook defaults: WEBHOOK_CONCURRENCY 32, or --webhook-concurrency,
 * and WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT 4), all with WEBHOOK_ALLOW_HTTP=true
 * WEBHOOK_ALLOW_HOSTS=127.0.0.1, and a receiver in this process on 127.0.0.1 that answers 200 at
 * once and checks every signature. 200 clients, each with a webhook secret: 100 "plain" ones without
 * a client webhook, 100 "hooked" ones with a client webhook on all seven events (an `echo` job makes
 * three deliveries: queued, started, succeeded). `echo` jobs are POSTed open loop (job i at
 * t0 + i/rate whatever the answers), round-robin over a set of clients; the bench learns of each
 * job's end from `live.>`. After a warm-up (2 s of each kind of job):
 *
 * 1. What one costs per job, at one rate under the delivery ceiling: the worker's, the api's and
 *    nats-server's CPU seconds per 1,000 jobs for (a) jobs without any webhook (the dispatcher still
 *    reads every event), (b) jobs with their own terminal-only webhook, (c) jobs of the hooked clients
 *    (three deliveries each), then (a) again, each from the first POST until every job has ended and
 *    every delivery has arrived.
 * 2. Deliveries per second: the hooked clients' jobs at each rate of --steps for --step-s seconds;
 *    deliveries received per second, the latency from the event's `at` (in the body) to its arrival
 *    at the receiver, and, sampled every 250 ms, the backlogs (the dispatcher's events not yet
 *    acknowledged on RESULTS, WEBHOOKS' messages, JOBS' pending jobs) and the deliveries the senders
 *    hold. Stops stepping up after the first step that does not hold: p99 over 1 s, fewer than 95% of
 *    the offered deliveries/s received while the load runs (a growing backlog), or not every delivery
 *    arrived within the drain time.
 *
 * Every phase checks that each job's expected deliveries arrived exactly once, signed (lost ones are
 * listed by job id and event, repeats by webhook-id). Prints the figures as markdown
 * (docs/benchmarks.md, "Webhooks"); about a minute. Every process it starts is stopped at the end,
 * on an error and on Ctrl-C.
 */
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { createTokens } from "../libs/auth/mod.ts";
import { newId } from "../libs/ids/mod.ts";
import {
  isTerminal,
  JOBS_STREAM,
  RESULTS_STREAM,
  WEBHOOK_DISPATCH_CONSUMER,
  WEBHOOK_SENDERS_CONSUMER,
  WEBHOOKS_DLQ_STREAM,
  WEBHOOKS_STREAM,
  WORKERS_CONSUMER,
  type JobEvent,
  type JobEventName,
} from "../libs/contracts/mod.ts";
import { verifyWebhook } from "../libs/webhooks/mod.ts";
import { Latency, type LatencySummary } from "./hist.ts";
import { metricSum } from "./metricsText.ts";
import { postJob } from "./postJob.ts";
import {
  benchNatsServerVersion,
  checkInterrupted,
  cpuSeconds,
  machineCpuSeconds,
  round,
  sleep,
  startHeraldApp,
  startNats,
  stopAll,
  stopAllOnInterrupt,
} from "./procs.ts";

const flag = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const STEPS = (flag("steps") ?? "100,200,300,350,400,500").split(",").map(Number);
const STEP_S = Number(flag("step-s") ?? 4);
const COST_RATE = Number(flag("cost-rate") ?? 200);
const COST_JOBS = Number(flag("cost-jobs") ?? 1000);
/** `--webhook-concurrency=N`: the worker's WEBHOOK_CONCURRENCY (its default, 32, when not given). */
const WEBHOOK_CONCURRENCY = flag("webhook-concurrency");
/** `--skip-cost`: the steps only. */
const SKIP_COST = process.argv.includes("--skip-cost");
/** A step holds if its deliveries' p99 stays under P99_LIMIT_MS and this share of them arrives while the load runs. */
const KEEP_UP = 0.95;
const CLIENTS = 100;
const WORKER_CONCURRENCY = 8;
/** What a hooked client's webhook gets: all seven events (an echo job has three of them). */
const ALL_EVENTS: JobEventName[] = ["queued", "started", "progress", "retrying", "succeeded", "failed", "canceled"];
const ECHO_EVENTS: JobEventName[] = ["queued", "started", "succeeded"];
/** How long a phase waits, after its last POST, for every job to end and every delivery to arrive. */
const DRAIN_MS = 15_000;
/** A step "holds" if its deliveries' p99 (event `at` → received) stays under this. */
const P99_LIMIT_MS = 1_000;
const SAMPLE_MS = 250;
const IDLE_MS = 2_000;

/** The run's temporary directory (the nats-server's store), removed at the end and on Ctrl-C. */
let runDir: string | null = null;

stopAllOnInterrupt(() => runDir);

interface Client {
  clientId: string;
  token: string;
  secret: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

async function call(apiUrl: string, c: Client, method: string, route: string, body?: unknown) {
  const res = await fetch(`${apiUrl}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${c.token}`,
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : null };
}

/**
 * The receiver: records each delivery once (by webhook-id: a repeat is counted, not recorded),
 * its latency from the event's `at`, and whether its signature verifies with its client's secret.
 */
class Receiver {
  readonly secrets = new Map<string, string>();
  /** jobId → the events received for it. */
  readonly perJob = new Map<string, JobEventName[]>();
  readonly seen = new Set<string>();
  unique = 0;
  duplicates: string[] = [];
  unverified: string[] = [];
  /** The current phase's latencies (event `at` → received, ms). */
  latency = new Latency();
  lastAt = 0;
  #server: http.Server;
  url = "";

  constructor() {
    this.#server = http.createServer((req, res) => {
      let body = "";
      req.setEncoding("utf8");
      req.on("data", (c: string) => (body += c));
      req.on("end", () => {
        res.writeHead(200, { "content-type": "text/plain" }).end("ok");
        this.#record(req.headers as Record<string, string | undefined>, body);
      });
    });
  }

  #record(headers: Record<string, string | undefined>, body: string): void {
    const now = Date.now();
    const id = headers["webhook-id"] ?? "";
    if (this.seen.has(id)) {
      this.duplicates.push(id);
      return;
    }
    this.seen.add(id);
    const e = JSON.parse(body) as JobEvent;
    const secret = this.secrets.get(e.clientId);
    if (!secret || !verifyWebhook({ body, headers, secret })) this.unverified.push(id);
    this.latency.recordMs(now - Date.parse(e.at));
    const events = this.perJob.get(e.jobId);
    if (events) events.push(e.event);
    else this.perJob.set(e.jobId, [e.event]);
    this.unique++;
    this.lastAt = performance.now();
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.#server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hook`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}

interface Backlog {
  /** ms since the phase's first POST. */
  t: number;
  /** JOBS: the workers consumer's pending + unacknowledged. */
  jobs: number;
  /** RESULTS: events the dispatcher has not yet acknowledged. */
  dispatch: number;
  /** WEBHOOKS: deliveries waiting (queued, or being sent). */
  webhooks: number;
  /** WEBHOOKS: deliveries the senders hold (fetched, not yet acknowledged): at most WEBHOOK_CONCURRENCY. */
  senders: number;
  /** Deliveries the receiver had then (all phases). */
  received: number;
}

async function backlog(jsm: JetStreamManager, t0: number, received: () => number): Promise<Backlog> {
  const [jobs, dispatch, webhooks, senders] = await Promise.all([
    jsm.consumers.info(JOBS_STREAM, WORKERS_CONSUMER),
    jsm.consumers.info(RESULTS_STREAM, WEBHOOK_DISPATCH_CONSUMER),
    jsm.streams.info(WEBHOOKS_STREAM),
    jsm.consumers.info(WEBHOOKS_STREAM, WEBHOOK_SENDERS_CONSUMER),
  ]);
  return {
    t: performance.now() - t0,
    received: received(),
    jobs: jobs.num_pending + jobs.num_ack_pending,
    dispatch: dispatch.num_pending + dispatch.num_ack_pending,
    webhooks: webhooks.state.messages,
    senders: senders.num_ack_pending,
  };
}

/**
 * Deliveries received per second while the load ran, past its first second (the pipeline filling):
 * from the first sample at or after 1 s to the last POST; over the whole load if it was shorter.
 */
function steadyRate(samples: readonly Backlog[], receivedAtEnd: number, endMs: number): number {
  const from = samples.find((x) => x.t >= 1_000 && x.t < endMs - 500);
  if (!from) {
    const first = samples[0];
    return first ? ((receivedAtEnd - first.received) * 1000) / (endMs - first.t) : Number.NaN;
  }
  return ((receivedAtEnd - from.received) * 1000) / (endMs - from.t);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "herald-webhooks-"));
  runDir = dir;
  let nc: NatsConnection | null = null;
  const receiver = new Receiver();
  const t00 = performance.now();
  const loadAtStart = os.loadavg()[0]!;
  try {
    await receiver.listen();
    const nats = await startNats(path.join(dir, "nats"));
    const tokenSecret = randomBytes(32).toString("hex");
    const env = {
      NATS_URL: nats.url,
      TOKEN_SECRET: tokenSecret,
      RATE_LIMIT_JOBS: "0",
      RATE_LIMIT_CLIENTS: "0",
      JOBS_MAX_QUEUED_PER_CLIENT: "1000000",
      WEBHOOK_ALLOW_HTTP: "true",
      WEBHOOK_ALLOW_HOSTS: "127.0.0.1",
      LOG_LEVEL: "warn",
      HERALD_BENCH_RUN: dir,
    };
    const api = await startHeraldApp("api", env);
    const worker = await startHeraldApp("worker", {
      ...env,
      WORKER_CONCURRENCY: String(WORKER_CONCURRENCY),
      ...(WEBHOOK_CONCURRENCY ? { WEBHOOK_CONCURRENCY } : {}),
    });
    const apiUrl = new URL(api.url);

    // 200 clients with a signing secret; the hooked half with a client webhook on every event.
    const tokens = createTokens([tokenSecret], 3_600_000);
    const newClient = async (): Promise<Client> => {
      const clientId = newId();
      const c = { clientId, token: (await tokens.mint(clientId)).token, secret: "" };
      const r = await call(api.url, c, "POST", "/v1/clients/me/webhook-secret");
      if (r.status !== 201) throw new Error(`POST webhook-secret: ${r.status} ${JSON.stringify(r.body)}`);
      c.secret = r.body!.secret as string;
      receiver.secrets.set(clientId, c.secret);
      return c;
    };
    const plain = await Promise.all(Array.from({ length: CLIENTS }, newClient));
    const hooked = await Promise.all(Array.from({ length: CLIENTS }, newClient));
    for (const c of hooked) {
      const r = await call(api.url, c, "PUT", "/v1/clients/me/webhook", { url: receiver.url, events: ALL_EVENTS });
      if (r.status !== 200) throw new Error(`PUT webhook: ${r.status} ${JSON.stringify(r.body)}`);
    }
    const workerMetrics = async () => (await fetch(`${worker.url}/metrics`)).text();
    // The worker's dispatcher knows a client's webhook once its watch has it.
    for (let i = 0; i < 100 && metricSum(await workerMetrics(), "herald_webhook_clients") !== CLIENTS; i++)
      await sleep(50);

    nc = await connect({ servers: nats.url });
    const jsm = await jetstreamManager(nc);
    const ended = new Set<string>();
    nc.subscribe("live.>", {
      callback: (err, m) => {
        if (err) return;
        const e = m.json<JobEvent>();
        if (isTerminal(e.event)) ended.add(e.jobId);
      },
    });
    await nc.flush();

    const snapshot = async () => {
      const text = await workerMetrics();
      const outcome = (o: string) =>
        metricSum(
          text
            .split("\n")
            .filter((l) => !l.startsWith("herald_webhook_deliveries_total{") || l.includes(`outcome="${o}"`))
            .join("\n"),
          "herald_webhook_deliveries_total",
        ) ?? 0;
      const self = process.cpuUsage();
      return {
        t: performance.now(),
        worker: cpuSeconds(worker.pid),
        api: cpuSeconds(api.pid),
        nats: cpuSeconds(nats.pid),
        bench: (self.user + self.system) / 1e6,
        machine: machineCpuSeconds(),
        queued: outcome("queued"),
        delivered: outcome("delivered"),
        retrying: outcome("retrying"),
        deadLettered: outcome("dead_lettered"),
        attemptSum: metricSum(text, "herald_webhook_attempt_seconds_sum") ?? 0,
        attemptCount: metricSum(text, "herald_webhook_attempt_seconds_count") ?? 0,
      };
    };
    type Snapshot = Awaited<ReturnType<typeof snapshot>>;
    const between = (a: Snapshot, b: Snapshot) => {
      const wallS = (b.t - a.t) / 1000;
      const cpu = { worker: b.worker - a.worker, api: b.api - a.api, nats: b.nats - a.nats, bench: b.bench - a.bench };
      const others = Math.max(0, b.machine.busy - a.machine.busy - cpu.worker - cpu.api - cpu.nats - cpu.bench);
      const steal = b.machine.steal - a.machine.steal;
      return {
        wallS,
        cpu,
        others,
        steal,
        queued: b.queued - a.queued,
        delivered: b.delivered - a.delivered,
        retrying: b.retrying - a.retrying,
        deadLettered: b.deadLettered - a.deadLettered,
        attemptMeanMs:
          b.attemptCount > a.attemptCount
            ? ((b.attemptSum - a.attemptSum) / (b.attemptCount - a.attemptCount)) * 1000
            : Number.NaN,
      };
    };

    let jobSeq = 0;
    /**
     * One phase: `n` echo jobs at `rate`/s over `clients` (open loop), then waits (bounded) until
     * every job has ended and every expected delivery (`expect` per job) has arrived.
     */
    const runPhase = async (o: {
      clients: Client[];
      rate: number;
      n: number;
      jobWebhook: boolean;
      expect: JobEventName[];
    }) => {
      const load1 = os.loadavg()[0]!;
      receiver.latency.destroy();
      receiver.latency = new Latency();
      const uniqueAtStart = receiver.unique;
      const dupsAtStart = receiver.duplicates.length;
      const unverifiedAtStart = receiver.unverified.length;
      const a = await snapshot();
      const t0 = performance.now() + 20;
      const samples: Backlog[] = [];
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          try {
            samples.push(await backlog(jsm, t0, () => receiver.unique));
          } catch {
            // a sample missed: the next one comes
          }
          await sleep(SAMPLE_MS);
        }
      })();
      const jobs: string[] = [];
      let errors = 0;
      let answered = 0;
      const firstError: string[] = [];
      for (let i = 0; i < o.n; i++) {
        const wait = t0 + (i * 1000) / o.rate - performance.now();
        if (wait > 0) await sleep(wait);
        checkInterrupted();
        const c = o.clients[i % o.clients.length]!;
        const webhook = o.jobWebhook ? `,"webhook":{"url":${JSON.stringify(receiver.url)}}` : "";
        postJob(
          { agent, api: apiUrl, token: c.token, body: `{"type":"echo","payload":{"i":${jobSeq++}}${webhook}}` },
          (status, onBody) =>
            onBody((text) => {
              answered++;
              if (status === 202) jobs.push((JSON.parse(text) as { jobId: string }).jobId);
              else {
                errors++;
                if (firstError.length < 1) firstError.push(`${status} ${text.slice(0, 200)}`);
              }
            }),
          (err) => {
            answered++;
            errors++;
            if (firstError.length < 1) firstError.push(err.message);
          },
        );
      }
      const tSent = performance.now();
      const uniqueAtSent = receiver.unique;
      const deadline = tSent + DRAIN_MS;
      while (performance.now() < deadline && answered < o.n) await sleep(10);
      const expected = jobs.length * o.expect.length;
      while (
        performance.now() < deadline &&
        (receiver.unique - uniqueAtStart < expected || jobs.some((j) => !ended.has(j)))
      ) {
        checkInterrupted();
        await sleep(10);
      }
      const drained = receiver.unique - uniqueAtStart >= expected && jobs.every((j) => ended.has(j));
      const tDone = drained ? Math.max(receiver.lastAt, tSent) : performance.now();
      const b = await snapshot();
      sampling = false;
      await sampler;
      // Exactly the expected events of each job, once each.
      const missing: string[] = [];
      for (const j of jobs) {
        const got = receiver.perJob.get(j) ?? [];
        for (const e of o.expect) if (!got.includes(e)) missing.push(`${j} ${e}`);
      }
      const extra = jobs.reduce((s, j) => s + Math.max(0, (receiver.perJob.get(j)?.length ?? 0) - o.expect.length), 0);
      const latency = receiver.latency.summary();
      const sendS = (tSent - t0) / 1000;
      return {
        load1,
        offered: o.rate,
        jobs: jobs.length,
        errors,
        firstError: firstError[0],
        notEnded: jobs.filter((j) => !ended.has(j)).length,
        expected,
        received: receiver.unique - uniqueAtStart,
        duringLoadPerS: steadyRate(samples, uniqueAtSent, tSent - t0),
        overallPerS: (receiver.unique - uniqueAtStart) / ((tDone - t0) / 1000),
        sendS,
        doneAfterS: (tDone - t0) / 1000,
        drained,
        missing,
        extra,
        duplicates: receiver.duplicates.slice(dupsAtStart),
        unverified: receiver.unverified.slice(unverifiedAtStart),
        latency,
        samples,
        run: between(a, b),
      };
    };
    type Phase = Awaited<ReturnType<typeof runPhase>>;

    // Idle: what the three processes use with nothing to do (the dispatcher's and senders' pulls, metrics).
    const idleA = await snapshot();
    await sleep(IDLE_MS);
    const idle = between(idleA, await snapshot());

    // Warm-up (not reported): each kind of job for 2 s (the processes' JIT, the consumers' first pulls).
    await runPhase({ clients: plain, rate: COST_RATE, n: 2 * COST_RATE, jobWebhook: false, expect: [] });
    await runPhase({ clients: plain, rate: COST_RATE, n: 2 * COST_RATE, jobWebhook: true, expect: ["succeeded"] });
    await runPhase({ clients: hooked, rate: COST_RATE, n: 2 * COST_RATE, jobWebhook: false, expect: ECHO_EVENTS });
    await sleep(500);

    // 1. The cost per job, at COST_RATE.
    const cost: [string, Phase][] = [];
    const costCases: [string, Parameters<typeof runPhase>[0]][] = [
      ["(a) no webhook", { clients: plain, rate: COST_RATE, n: COST_JOBS, jobWebhook: false, expect: [] }],
      [
        "(b) the job's own webhook, terminal only",
        { clients: plain, rate: COST_RATE, n: COST_JOBS, jobWebhook: true, expect: ["succeeded"] },
      ],
      [
        "(c) a client webhook on every event",
        { clients: hooked, rate: COST_RATE, n: COST_JOBS, jobWebhook: false, expect: ECHO_EVENTS },
      ],
      ["(a) no webhook, again", { clients: plain, rate: COST_RATE, n: COST_JOBS, jobWebhook: false, expect: [] }],
    ];
    for (const [name, spec] of SKIP_COST ? [] : costCases) {
      cost.push([name, await runPhase(spec)]);
      await sleep(500);
    }

    // 2. Deliveries per second, stepping up until a step does not hold.
    const holds = (p: Phase) =>
      p.drained &&
      p.latency.p99 <= P99_LIMIT_MS &&
      p.errors === 0 &&
      p.duringLoadPerS >= KEEP_UP * p.offered * ECHO_EVENTS.length;
    const steps: Phase[] = [];
    for (const rate of STEPS) {
      const p = await runPhase({
        clients: hooked,
        rate,
        n: Math.round(rate * STEP_S),
        jobWebhook: false,
        expect: ECHO_EVENTS,
      });
      steps.push(p);
      if (!holds(p)) break;
      await sleep(1_000);
    }
    const dlq = (await jsm.streams.info(WEBHOOKS_DLQ_STREAM)).state.messages;

    // ---------------------------------------------------------------------------------------------
    // The report.
    const pct = (s: number, wallS: number) => `${round((s / wallS) * 100, 0)}%`;
    const pct1 = (s: number, wallS: number) => `${round((s / wallS) * 100, 1)}%`;
    const lat = (l: LatencySummary) => `${l.p50} | ${l.p90} | ${l.p99} | ${l.max}`;
    /** A backlog at each full second of the load, then its max over the phase. */
    const series = (p: Phase, k: "dispatch" | "webhooks") => {
      const at: number[] = [];
      for (let s = 1; s <= Math.ceil(p.sendS); s++) {
        const near = p.samples.filter((x) => x.t <= s * 1000).at(-1);
        if (near) at.push(near[k]);
      }
      return `${at.join(" / ")} (max ${Math.max(0, ...p.samples.map((x) => x[k]))})`;
    };
    const during = (p: Phase) => p.samples.filter((x) => x.t <= p.sendS * 1000);
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
    const best = steps.filter(holds).at(-1);
    const problems = [
      ...cost.map(([n, p]) => [n, p] as const),
      ...steps.map((p) => [`${p.offered} jobs/s`, p] as const),
    ]
      .filter(
        ([, p]) => p.errors || p.missing.length || p.duplicates.length || p.unverified.length || p.notEnded || p.extra,
      )
      .map(
        ([n, p]) =>
          `${n}: ${p.errors} POST errors${p.firstError ? ` (first: ${p.firstError})` : ""}, ${p.notEnded} jobs not ended, ` +
          `${p.missing.length} deliveries missing${p.missing.length ? ` (${p.missing.slice(0, 10).join(", ")})` : ""}, ` +
          `${p.duplicates.length} repeats${p.duplicates.length ? ` (${p.duplicates.slice(0, 5).join(", ")})` : ""}, ` +
          `${p.extra} unexpected, ${p.unverified.length} unverified`,
      );
    const warnings = [
      ["api", api],
      ["worker", worker],
    ].map(([n, a]) => `${n as string} ${(a as typeof api).warnings().count}`);
    const perK = (s: number, p: Phase) => round((s * 1000) / Math.max(1, p.jobs), 2);
    /** CPU seconds per job without webhooks: the mean of the two (a) runs. */
    const basePerJob = (k: "worker" | "api" | "nats") =>
      mean([cost[0]!, cost[3]!].map(([, p]) => p.run.cpu[k] / p.jobs));
    const perDelivery = (p: Phase) => {
      if (!p.received) return "—";
      const d = (k: "worker" | "api" | "nats") =>
        round(((p.run.cpu[k] / p.jobs - basePerJob(k)) * p.jobs * 1000) / p.received, 2);
      return `${d("worker")} / ${d("api")} / ${d("nats")} ms`;
    };
    const costLines = cost.length
      ? [
          `**What one costs per job.** ${COST_JOBS} \`echo\` jobs at ${COST_RATE}/s per case, measured from the first POST until every job ended and every delivery arrived; CPU seconds per 1,000 jobs (and % of a core over the phase). The bench column is this process: the POSTs, \`live.>\` and the receiver.`,
          "",
          "| case | deliveries | all received after | latency p50 / p99 | worker | api | nats-server | bench | others (rest of the machine) / steal | load (1 min) |",
          "|---|---|---|---|---|---|---|---|---|---|",
          ...cost.map(
            ([name, p]) =>
              `| ${name} | ${p.received} | ${round(p.doneAfterS, 2)} s | ${p.received ? `${p.latency.p50} / ${p.latency.p99} ms` : "—"} | ${perK(p.run.cpu.worker, p)} s (${pct(p.run.cpu.worker, p.run.wallS)}) | ${perK(p.run.cpu.api, p)} s (${pct(p.run.cpu.api, p.run.wallS)}) | ${perK(p.run.cpu.nats, p)} s (${pct(p.run.cpu.nats, p.run.wallS)}) | ${perK(p.run.cpu.bench, p)} s | ${pct(p.run.others, p.run.wallS)} / ${pct(p.run.steal, p.run.wallS)} | ${round(p.load1, 2)} |`,
          ),
          "",
          `Per delivery, over the mean of the two (a) runs: (b) ${perDelivery(cost[1]![1])}, (c) ${perDelivery(cost[2]![1])} of worker / api / nats-server CPU.`,
          "",
        ]
      : [];

    const lines = [
      `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), Node ${process.version}, nats-server ${benchNatsServerVersion()}; load average (1 min) ${round(loadAtStart, 2)} at the start. One nats-server, one api and one worker process (WORKER_CONCURRENCY=${WORKER_CONCURRENCY}; ${WEBHOOK_CONCURRENCY ? `WEBHOOK_CONCURRENCY=${WEBHOOK_CONCURRENCY}, WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT at its default, 4` : "WEBHOOK_CONCURRENCY and WEBHOOK_MAX_IN_FLIGHT_PER_CLIENT at their defaults, 32 and 4"}), WEBHOOK_ALLOW_HTTP=true WEBHOOK_ALLOW_HOSTS=127.0.0.1; the receiver runs in the bench process on 127.0.0.1, answers 200 at once and checks every signature. \`echo\` jobs POSTed open loop over ${CLIENTS} clients. Idle (${IDLE_MS / 1000} s), the worker used ${pct1(idle.cpu.worker, idle.wallS)} of a core, the api ${pct1(idle.cpu.api, idle.wallS)}, nats-server ${pct1(idle.cpu.nats, idle.wallS)}.`,
      "",
      `**Deliveries per second.** ${CLIENTS} clients, each with a client webhook on all seven events (an \`echo\` job makes three deliveries: queued, started, succeeded); each step ${STEP_S} s of jobs, then until every delivery arrived (at most ${DRAIN_MS / 1000} s). Latency: the event's \`at\` (in the body) → the receiver has it, ms (both clocks in ms). Backlogs sampled every ${SAMPLE_MS} ms, shown at each second of the load: the dispatcher's events not yet acknowledged (\`webhook-dispatch\` on RESULTS), deliveries in WEBHOOKS (waiting or being sent); senders busy: WEBHOOKS deliveries fetched and not yet acknowledged (\`webhook-senders\` ack pending), mean / max over the load. JOBS: the \`workers\` consumer's pending + unacknowledged, max. CPU as % of one core over the step; others: the rest of the machine; steal: taken by the hypervisor.`,
      "",
      "| jobs/s offered | deliveries offered/s | received/s during the load (after its first second) | all received after | p50 | p90 | p99 | max | lost | repeats | dispatcher backlog | WEBHOOKS backlog | senders busy | JOBS max | mean attempt | worker | api | nats-server | bench | others / steal | load (1 min) |",
      "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
      ...steps.map(
        (p) =>
          `| ${p.offered} | ${p.offered * ECHO_EVENTS.length} | ${round(p.duringLoadPerS, 0)} | ${p.drained ? `${round(p.doneAfterS, 2)} s` : `**not within ${DRAIN_MS / 1000} s** (${p.received} of ${p.expected})`} | ${lat(p.latency)} | ${p.missing.length} | ${p.duplicates.length} | ${series(p, "dispatch")} | ${series(p, "webhooks")} | ${round(mean(during(p).map((x) => x.senders)), 1)} / ${Math.max(0, ...p.samples.map((x) => x.senders))} | ${Math.max(0, ...p.samples.map((x) => x.jobs))} | ${round(p.run.attemptMeanMs, 1)} ms | ${pct(p.run.cpu.worker, p.run.wallS)} | ${pct(p.run.cpu.api, p.run.wallS)} | ${pct(p.run.cpu.nats, p.run.wallS)} | ${pct(p.run.cpu.bench, p.run.wallS)} | ${pct(p.run.others, p.run.wallS)} / ${pct(p.run.steal, p.run.wallS)} | ${round(p.load1, 2)} |`,
      ),
      "",
      best
        ? `Highest step held (p99 ≤ ${P99_LIMIT_MS} ms, at least ${KEEP_UP * 100}% of the offered deliveries/s received during the load, every delivery arrived, no error): **${best.offered} jobs/s, ${best.offered * ECHO_EVENTS.length} deliveries/s**${best === steps.at(-1) ? " (the last step: the ceiling is higher)" : ""}.`
        : "No step held.",
      "",
      ...costLines,
      `${problems.length ? `Problems: ${problems.join("; ")}.` : "Every job ended; every expected delivery arrived exactly once, signed with its client's secret."} Dead letters in WEBHOOKS_DLQ at the end: ${dlq}. Attempts answered with anything but 2xx: ${[...cost.map(([, p]) => p), ...steps].reduce((s, p) => s + p.run.retrying + p.run.deadLettered, 0)} (retrying or dead-lettered). Warnings and errors logged: ${warnings.join(", ")}. Whole run ${round((performance.now() - t00) / 1000, 0)} s.`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await nc?.close();
    await stopAll();
    await receiver.close();
    receiver.latency.destroy();
    agent.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
