/**
 * What a concurrency cap per job type does across worker processes (`defineJob({ concurrency })`):
 *
 *   node --import tsx bench/typeCaps.ts
 *
 * Starts a nats-server, one api and two worker processes (scripts/launcher, through bench/procs.ts),
 * each worker with WORKER_CONCURRENCY=8, all with WORKER_JOBS=bench/typeCapsJobs.ts: `capped` sleeps
 * `ms` with `concurrency: 4`; the built-in `echo` is the uncapped type. Jobs are POSTed to
 * /v1/jobs over 4 clients; the bench learns of their ends from `live.>` (the RESULTS republish), and
 * reads each capped job's stored events from RESULTS afterwards. After a short warm-up:
 *
 * 1. 200 `capped` jobs of 50 ms, submitted at once: the most that ran at once (a sweep over each
 *    attempt's stored `started` → `succeeded`/`retrying`/… times), which must be ≤ 4, and the
 *    jobs/s achieved against the ideal cap ÷ 50 ms = 80 jobs/s.
 * 2. 500 `echo` jobs at 100/s (open loop: latency from each job's scheduled send to the moment its
 *    `succeeded` reaches the bench) alone, then the same behind a backlog of 800 `capped` jobs of
 *    50 ms queued just before (about 10 s of work at the cap: it outlasts the echo load).
 * 3. For both runs of 2: the workers' `herald_worker_deliveries_handed_back_total` (summed over both
 *    /metrics) per 1,000 jobs run, and each worker's CPU (and nats-server's). Neither fills a
 *    worker's slots, and hand-backs happen only when they are full; so, last, the same figures with
 *    the slots short: 400 `capped` and 1,200 `uncapped` jobs (the same 50 ms sleep without a cap)
 *    submitted at once, and whether `capped` still gets its 4 places beside them.
 *
 * Prints the figures as markdown (docs/benchmarks.md). Every process it starts is stopped at the
 * end, on an error and on Ctrl-C.
 */
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { createTokens } from "../libs/auth/mod.ts";
import { newId } from "../libs/ids/mod.ts";
import { isTerminal, resultSubject, type JobEvent } from "../libs/contracts/mod.ts";
import { readEventsFrom, readLastEvent } from "../libs/results/mod.ts";
import { Latency } from "./hist.ts";
import { metricSum } from "./metricsText.ts";
import { postJob } from "./postJob.ts";
import {
  benchNatsServerVersion,
  checkInterrupted,
  cpuSeconds,
  round,
  sleep,
  startHeraldApp,
  startNats,
  stopAll,
  type RunningApp,
  stopAllOnInterrupt,
} from "./procs.ts";
import { capped } from "./typeCapsJobs.ts";

const CAP = capped.concurrency!;
const JOB_MS = 50;
const WORKERS = 2;
const WORKER_CONCURRENCY = 8;
const CLIENTS = 4;
/** Phase 1: capped jobs submitted at once. */
const CAP_JOBS = 200;
/** Phase 2: the capped backlog queued before the echo load (BACKLOG_JOBS × JOB_MS ÷ CAP of work). */
const BACKLOG_JOBS = 800;
const ECHO_JOBS = 500;
const ECHO_RATE = 100;
/** Slots short: capped and uncapped jobs of JOB_MS, submitted together. */
const SHORT_CAPPED = 400;
const SHORT_UNCAPPED = 1200;
/** POSTs in flight at once when a batch is submitted as fast as the api takes it. */
const SUBMIT_IN_FLIGHT = 32;
/** How long the bench waits for a batch's jobs to end after its last was accepted. */
const DRAIN_MS = 30_000;
const WORKER_JOBS = "bench/typeCapsJobs.ts";

/** The run's temporary directory (the nats-server's store), removed at the end and on Ctrl-C. */
let runDir: string | null = null;

stopAllOnInterrupt(() => runDir);

interface Client {
  clientId: string;
  token: string;
}

interface Job {
  jobId: string;
  clientId: string;
  /** performance.now() when it was (meant to be) sent. */
  sched: number;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

async function pool<T, R>(items: readonly T[], n: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]!);
      }
    }),
  );
  return out;
}

/** A sweep over [start, end] intervals (ms): the most open at once; an end before a start at the same ms. */
function peakOverlap(intervals: readonly [number, number][]): number {
  const points = intervals.flatMap(([s, e]): [number, number][] => [
    [s, 1],
    [e, -1],
  ]);
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, d] of points) peak = Math.max(peak, (now += d));
  return peak;
}

/** Prometheus text with only the samples of `name` labelled `type="<type>"` (and every other line). */
function onlyType(text: string, name: string, type: string): string {
  return text
    .split("\n")
    .filter((l) => !l.startsWith(`${name}{`) || l.includes(`type="${type}"`))
    .join("\n");
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "herald-typecaps-"));
  runDir = dir;
  let nc: NatsConnection | null = null;
  const t00 = performance.now();
  try {
    const nats = await startNats(path.join(dir, "nats"));
    const secret = randomBytes(32).toString("hex");
    const env = {
      NATS_URL: nats.url,
      TOKEN_SECRET: secret,
      RATE_LIMIT_JOBS: "0",
      RATE_LIMIT_CLIENTS: "0",
      JOBS_MAX_QUEUED_PER_CLIENT: "1000000",
      WORKER_JOBS,
      LOG_LEVEL: "warn",
      HERALD_BENCH_RUN: dir,
    };
    // The api first: it provisions the streams and the capped type's consumer the workers pull from.
    const api = await startHeraldApp("api", env);
    const workers: RunningApp[] = [];
    for (let i = 0; i < WORKERS; i++)
      workers.push(await startHeraldApp("worker", { ...env, WORKER_CONCURRENCY: String(WORKER_CONCURRENCY) }));

    const tokens = createTokens([secret], 3_600_000);
    const clients: Client[] = await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        const clientId = newId();
        return { clientId, token: (await tokens.mint(clientId)).token };
      }),
    );
    const apiUrl = new URL(api.url);

    // Every job's end as the bench learns of it: its terminal event on live.> (job id → when it came).
    nc = await connect({ servers: nats.url });
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const ended = new Map<string, { event: string; at: number }>();
    nc.subscribe("live.>", {
      callback: (err, m) => {
        if (err) return;
        const e = m.json<JobEvent>();
        if (isTerminal(e.event)) ended.set(e.jobId, { event: e.event, at: performance.now() });
      },
    });
    await nc.flush();

    const submit = (c: Client, body: string): Promise<string> =>
      new Promise((resolve, reject) =>
        postJob(
          { agent, api: apiUrl, token: c.token, body },
          (status, onBody) =>
            onBody((text) =>
              status === 202
                ? resolve((JSON.parse(text) as { jobId: string }).jobId)
                : reject(new Error(`POST /v1/jobs: ${status} ${text}`)),
            ),
          reject,
        ),
      );
    const cappedBody = JSON.stringify({ type: "capped", payload: { ms: JOB_MS } });

    /** `n` jobs, as fast as the api takes them (SUBMIT_IN_FLIGHT at once), round-robin over the clients. */
    const submitBatch = (n: number, body: string): Promise<Job[]> =>
      pool(
        Array.from({ length: n }, (_, i) => clients[i % CLIENTS]!),
        SUBMIT_IN_FLIGHT,
        async (c) => {
          checkInterrupted();
          const sched = performance.now();
          return { jobId: await submit(c, body), clientId: c.clientId, sched };
        },
      );

    /** `n` echo jobs at `rate`/s, open loop: job i is sent at t0 + i/rate whatever the answers. */
    const echoLoad = async (n: number, rate: number): Promise<{ jobs: Job[]; lastSentAt: number }> => {
      const pending: Promise<Job>[] = [];
      const t0 = performance.now() + 20;
      for (let i = 0; i < n; i++) {
        const sched = t0 + (i * 1000) / rate;
        const wait = sched - performance.now();
        if (wait > 0) await sleep(wait);
        checkInterrupted();
        const c = clients[i % CLIENTS]!;
        const body = `{"type":"echo","payload":{"i":${i}}}`;
        pending.push(submit(c, body).then((jobId) => ({ jobId, clientId: c.clientId, sched })));
      }
      const lastSentAt = performance.now();
      return { jobs: await Promise.all(pending), lastSentAt };
    };

    /** Waits until every job has ended (bounded); those whose end never came on live.> are read from RESULTS. */
    const waitEnded = async (jobs: readonly Job[]): Promise<{ notSeenLive: number; notEnded: number }> => {
      const deadline = performance.now() + DRAIN_MS;
      while (performance.now() < deadline && jobs.some((j) => !ended.has(j.jobId))) {
        checkInterrupted();
        await sleep(20);
      }
      const missing = jobs.filter((j) => !ended.has(j.jobId));
      let notEnded = 0;
      for (const j of missing) {
        const last = await readLastEvent(jsm, j.clientId, j.jobId, "leader");
        if (!last || !isTerminal(last.event.event)) notEnded++;
      }
      return { notSeenLive: missing.length, notEnded };
    };

    /** Each attempt of each job, [started, its end] in ms, from the events stored in RESULTS. */
    const attempts = async (jobs: readonly Job[]) => {
      const perJob = await pool(jobs, 16, async (j) => {
        const last = await readLastEvent(jsm, j.clientId, j.jobId, "leader");
        if (!last) return { intervals: [] as [number, number][], outcome: "none" };
        const intervals: [number, number][] = [];
        let open: number | null = null;
        for await (const raw of readEventsFrom(js, jsm, resultSubject(j.clientId, j.jobId), 1, last.seq)) {
          const e = JSON.parse(raw.json) as JobEvent;
          const at = Date.parse(e.at);
          if (e.event === "started") open = at;
          else if ((e.event === "retrying" || isTerminal(e.event)) && open !== null) {
            intervals.push([open, at]);
            open = null;
          }
        }
        return { intervals, outcome: last.event.event };
      });
      const intervals = perJob.flatMap((p) => p.intervals);
      const first = Math.min(...intervals.map((i) => i[0]));
      const last = Math.max(...intervals.map((i) => i[1]));
      const busyMs = intervals.reduce((s, [a, b]) => s + (b - a), 0);
      return {
        attempts: intervals.length,
        succeeded: perJob.filter((p) => p.outcome === "succeeded").length,
        peak: peakOverlap(intervals),
        spanS: (last - first) / 1000,
        meanRunMs: busyMs / intervals.length,
        meanAtOnce: busyMs / (last - first),
        jobsPerS: perJob.length / ((last - first) / 1000),
      };
    };

    const workerMetrics = () => Promise.all(workers.map(async (w) => (await fetch(`${w.url}/metrics`)).text()));
    /** Per worker: CPU, hand-backs, jobs finished (all types, and capped); nats-server's CPU; the time. */
    const snapshot = async () => {
      const texts = await workerMetrics();
      const finished = "herald_jobs_finished_total";
      return {
        t: performance.now(),
        cpu: workers.map((w) => cpuSeconds(w.pid)),
        natsCpu: cpuSeconds(nats.pid),
        handedBack: texts.map((t) => metricSum(t, "herald_worker_deliveries_handed_back_total") ?? Number.NaN),
        finished: texts.map((t) => metricSum(t, finished) ?? 0),
        finishedCapped: texts.map((t) => metricSum(onlyType(t, finished, "capped"), finished) ?? 0),
      };
    };
    type Snapshot = Awaited<ReturnType<typeof snapshot>>;
    const between = (a: Snapshot, b: Snapshot) => {
      const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
      const perWorker = (k: "cpu" | "handedBack" | "finished" | "finishedCapped") =>
        workers.map((_, i) => b[k][i]! - a[k][i]!);
      return {
        wallS: (b.t - a.t) / 1000,
        cpu: perWorker("cpu"),
        natsCpu: b.natsCpu - a.natsCpu,
        handedBack: sum(perWorker("handedBack")),
        finished: perWorker("finished"),
        finishedCapped: perWorker("finishedCapped"),
      };
    };
    const latencyOf = (jobs: readonly Job[]) => {
      const h = new Latency();
      for (const j of jobs) {
        const e = ended.get(j.jobId);
        if (e?.event === "succeeded") h.recordMs(e.at - j.sched);
      }
      const s = h.summary();
      h.destroy();
      return s;
    };

    // Warm-up (not reported): every process's code paths, the consumers' first pulls, the echo load's pace.
    const warm = [...(await submitBatch(2 * CAP, cappedBody)), ...(await echoLoad(200, ECHO_RATE)).jobs];
    await waitEnded(warm);
    await sleep(500);

    // 1. The cap across processes.
    const s1a = await snapshot();
    const p1jobs = await submitBatch(CAP_JOBS, cappedBody);
    const p1submitS = (performance.now() - s1a.t) / 1000;
    const p1wait = await waitEnded(p1jobs);
    const s1b = await snapshot();
    const p1 = between(s1a, s1b);
    const p1runs = await attempts(p1jobs);
    await sleep(500);

    // 2a. Baseline: the echo load alone.
    const s2a = await snapshot();
    const base = await echoLoad(ECHO_JOBS, ECHO_RATE);
    const baseWait = await waitEnded(base.jobs);
    const s2b = await snapshot();
    const baseRun = between(s2a, s2b);
    const baseLatency = latencyOf(base.jobs);
    await sleep(500);

    // 2b. The same load behind a capped backlog.
    const s3a = await snapshot();
    const backlog = await submitBatch(BACKLOG_JOBS, cappedBody);
    const backlogSubmitS = (performance.now() - s3a.t) / 1000;
    const backlogAtEchoStart = backlog.filter((j) => !ended.has(j.jobId)).length;
    const loaded = await echoLoad(ECHO_JOBS, ECHO_RATE);
    const backlogAtEchoEnd = backlog.filter((j) => !ended.has(j.jobId)).length;
    const loadedWait = await waitEnded(loaded.jobs);
    const loadedLatency = latencyOf(loaded.jobs);
    const echoDoneS = (performance.now() - s3a.t) / 1000;
    const backlogWait = await waitEnded(backlog);
    const s3b = await snapshot();
    const loadedRun = between(s3a, s3b);
    const backlogRuns = await attempts(backlog);
    await sleep(500);

    // 3b. Slots short: the uncapped lane alone could fill every slot of both workers.
    const s4a = await snapshot();
    const [shortCapped, shortUncapped] = await Promise.all([
      submitBatch(SHORT_CAPPED, cappedBody),
      submitBatch(SHORT_UNCAPPED, JSON.stringify({ type: "uncapped", payload: { ms: JOB_MS } })),
    ]);
    const shortCappedWait = await waitEnded(shortCapped);
    const shortUncappedWait = await waitEnded(shortUncapped);
    const s4b = await snapshot();
    const shortRun = between(s4a, s4b);
    const shortCappedRuns = await attempts(shortCapped);
    const shortUncappedRuns = await attempts(shortUncapped);

    const cpuCells = (r: ReturnType<typeof between>) =>
      r.cpu
        .map(
          (c, i) =>
            `${round(c, 2)} s (${round((c / r.wallS) * 100, 0)}%; ${round((c * 1000) / Math.max(1, r.finished[i]!), 2)} ms/job)`,
        )
        .join(" | ");
    const hbCells = (r: ReturnType<typeof between>) => {
      const jobs = r.finished.reduce((s, x) => s + x, 0);
      return `${jobs.toLocaleString("en")} (${r.finished.join(" / ")}) | ${r.handedBack} | ${round((r.handedBack * 1000) / Math.max(1, jobs), 1)}`;
    };
    const lat = (l: ReturnType<typeof latencyOf>) => `${l.p50} | ${l.p90} | ${l.p99} | ${l.max} | ${l.count}`;
    const ideal = (CAP * 1000) / JOB_MS;
    const warnings = [api, ...workers].map((a, i) => `${i === 0 ? "api" : `worker ${i}`} ${a.warnings().count}`);
    const notes = [
      ["phase 1", p1wait],
      ["echo alone", baseWait],
      ["echo beside the backlog", loadedWait],
      ["the backlog", backlogWait],
      ["capped with the slots short", shortCappedWait],
      ["uncapped with the slots short", shortUncappedWait],
    ]
      .filter(([, w]) => (w as typeof p1wait).notSeenLive > 0)
      .map(([name, w]) => {
        const x = w as typeof p1wait;
        return `${name}: ${x.notSeenLive} ends not seen on live.> within ${DRAIN_MS / 1000} s (${x.notEnded} not ended in RESULTS either)`;
      });

    const lines = [
      `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), Node ${process.version}, nats-server ${benchNatsServerVersion()}; one nats-server, one api and ${WORKERS} worker processes (WORKER_CONCURRENCY=${WORKER_CONCURRENCY} each), all with WORKER_JOBS=${WORKER_JOBS}: \`capped\` sleeps its \`ms\` (${JOB_MS}) with \`concurrency: ${CAP}\`, the built-in \`echo\` is uncapped; jobs POSTed to /v1/jobs over ${CLIENTS} clients.`,
      "",
      `**The cap holds across processes.** ${CAP_JOBS} \`capped\` jobs of ${JOB_MS} ms, submitted at once (${SUBMIT_IN_FLIGHT} POSTs in flight; all accepted in ${round(p1submitS, 2)} s). Running at once: a sweep over each attempt's stored \`started\` → end times (RESULTS \`at\`, ms).`,
      "",
      `| | jobs (succeeded) | attempts | peak running at once (cap ${CAP}) | mean running at once | started → succeeded, mean | jobs/s (first started → last ended) | ideal (${CAP} ÷ ${JOB_MS} ms) | run by worker 1 / 2 | hand-backs |`,
      "|---|---|---|---|---|---|---|---|---|---|",
      `| ${CAP_JOBS} submitted at once | ${CAP_JOBS} (${p1runs.succeeded}) | ${p1runs.attempts} | **${p1runs.peak}** | ${round(p1runs.meanAtOnce, 2)} | ${round(p1runs.meanRunMs, 1)} ms | ${round(p1runs.jobsPerS, 1)} (${round(p1runs.spanS, 2)} s) | ${ideal} | ${p1.finishedCapped.join(" / ")} | ${p1.handedBack} |`,
      `| ${BACKLOG_JOBS} queued as a backlog beside the echo load (below) | ${BACKLOG_JOBS} (${backlogRuns.succeeded}) | ${backlogRuns.attempts} | **${backlogRuns.peak}** | ${round(backlogRuns.meanAtOnce, 2)} | ${round(backlogRuns.meanRunMs, 1)} ms | ${round(backlogRuns.jobsPerS, 1)} (${round(backlogRuns.spanS, 2)} s) | ${ideal} | ${loadedRun.finishedCapped.join(" / ")} | ${loadedRun.handedBack} |`,
      `| ${SHORT_CAPPED} submitted with ${SHORT_UNCAPPED.toLocaleString("en")} \`uncapped\` (slots short, below) | ${SHORT_CAPPED} (${shortCappedRuns.succeeded}) | ${shortCappedRuns.attempts} | **${shortCappedRuns.peak}** | ${round(shortCappedRuns.meanAtOnce, 2)} | ${round(shortCappedRuns.meanRunMs, 1)} ms | ${round(shortCappedRuns.jobsPerS, 1)} (${round(shortCappedRuns.spanS, 2)} s) | ${ideal} | ${shortRun.finishedCapped.join(" / ")} | ${shortRun.handedBack} (both types) |`,
      "",
      `**Other types are not held back.** ${ECHO_JOBS} \`echo\` jobs at ${ECHO_RATE}/s, open loop (latency from each job's scheduled send to its \`succeeded\` on \`live.>\`), alone, then right after ${BACKLOG_JOBS} \`capped\` jobs of ${JOB_MS} ms were queued (accepted in ${round(backlogSubmitS, 2)} s; ${backlogAtEchoStart} of them not yet ended when the echo load began, ${backlogAtEchoEnd} when its last job was sent).`,
      "",
      "| echo load | submit → succeeded p50 (ms) | p90 | p99 | max | jobs |",
      "|---|---|---|---|---|---|",
      `| alone | ${lat(baseLatency)} |`,
      `| beside the \`capped\` backlog${backlogAtEchoEnd > CAP ? " (still queued when the last echo job was sent)" : " (**ran out before the echo load ended**)"} | ${lat(loadedLatency)} |`,
      "",
      `**Hand-back cost.** \`herald_worker_deliveries_handed_back_total\`, summed over both workers' /metrics, and each process's CPU (seconds, % of one core over the phase, and per job the worker finished); the backlog phase runs from its first POST until its last job ended (the echo load was done after ${round(echoDoneS, 1)} s).`,
      "",
      "| phase | wall time | jobs run (worker 1 / 2) | hand-backs | per 1,000 jobs | worker 1 CPU | worker 2 CPU | nats-server CPU |",
      "|---|---|---|---|---|---|---|---|",
      `| ${CAP_JOBS} \`capped\` at once (1.) | ${round(p1.wallS, 1)} s | ${hbCells(p1)} | ${cpuCells(p1)} | ${round(p1.natsCpu, 2)} s |`,
      `| ${ECHO_JOBS} \`echo\` alone | ${round(baseRun.wallS, 1)} s | ${hbCells(baseRun)} | ${cpuCells(baseRun)} | ${round(baseRun.natsCpu, 2)} s |`,
      `| ${ECHO_JOBS} \`echo\` + ${BACKLOG_JOBS} \`capped\` | ${round(loadedRun.wallS, 1)} s | ${hbCells(loadedRun)} | ${cpuCells(loadedRun)} | ${round(loadedRun.natsCpu, 2)} s |`,
      `| slots short: ${SHORT_CAPPED} \`capped\` + ${SHORT_UNCAPPED.toLocaleString("en")} \`uncapped\` at once | ${round(shortRun.wallS, 1)} s | ${hbCells(shortRun)} | ${cpuCells(shortRun)} | ${round(shortRun.natsCpu, 2)} s |`,
      "",
      `With the slots short, \`uncapped\` ran ${round(shortUncappedRuns.jobsPerS, 1)} jobs/s (${shortUncappedRuns.attempts} attempts for ${SHORT_UNCAPPED} jobs, ${shortUncappedRuns.succeeded} succeeded; ${round(shortUncappedRuns.meanAtOnce, 2)} at once on average, peak ${shortUncappedRuns.peak}, over ${round(shortUncappedRuns.spanS, 2)} s; ${WORKERS * WORKER_CONCURRENCY} slots in all, ${WORKERS * WORKER_CONCURRENCY - CAP} of them left when \`capped\` holds its ${CAP}).`,
      "",
      `Warnings and errors logged: ${warnings.join(", ")}.${notes.length ? ` ${notes.join("; ")}.` : ""} Whole run ${round((performance.now() - t00) / 1000, 0)} s.`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await nc?.close();
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
