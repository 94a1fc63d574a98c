/**
 * `npm run bench` — herald's benchmark (issue 9). `npm run bench -- --quick` for a smoke run.
 *
 * Options:
 *   --quick                 short steps, few connections (about 80 s)
 *   --modes=separate,standalone
 *   --scenarios=1,2,3,4,5,6,7  (1 end-to-end latency, 2 throughput, 3 raw JetStream ceiling,
 *                            4 idle SSE connections, 5 replay, 6 storm: a notifier SIGKILLed under
 *                            load, its clients resume on another; 7 rolling restart: the same
 *                            with SIGTERM and SSE_DRAIN_WINDOW. 6 and 7: separate layout only)
 *   --soak=30m              instead: only the soak (separate layout, 200 clients, RSS and heap
 *                            of every process every 10 s); --soak-rate=500 jobs/s;
 *                            --heap-snapshots=DIR: the apps write heap snapshots there
 *   --out=DIR               where results go (default bench/results)
 *   --rates=250,500 --duration=20   scenario 1's rates (jobs/s) and step length (s)
 *   --watch-live            diagnostic: the bench also subscribes to live.> (costs CPU)
 *   --cpu-prof=DIR          profile: every herald process writes a .cpuprofile into DIR on exit
 *
 * Writes bench/results/<timestamp>.md and .json and bench/results/latest.md, and prints the
 * markdown. Every process it starts is stopped at the end, on error and on Ctrl-C.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { createTokens } from "../libs/auth/mod.ts";
import { describe, E2eBench, passes, stepUp, type StepResult } from "./e2e.ts";
import { rawPublish } from "./raw.ts";
import { replayBench } from "./replay.ts";
import { connectionsBench } from "./connections.ts";
import { stormBench } from "./storm.ts";
import { parseSoakDuration, soakBench, type SoakResult } from "./soak.ts";
import {
  checkInterrupted,
  interrupt,
  LogTally,
  machineCpuSeconds,
  benchNatsServerVersion,
  ROOT,
  round,
  sleep,
  startHeraldApp,
  startNats,
  setAppNodeArgs,
  startStandalone,
  stopAll,
  type RunningApp,
} from "./procs.ts";
import { renderMarkdown, type BenchResult, type Machine, type Mode, type ModeResult } from "./report.ts";

// ---------------------------------------------------------------------------------------------
// Options

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const opt = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
if (flag("help") || flag("h")) {
  const lines = readFileSync(new URL(import.meta.url), "utf8").split("\n");
  process.stdout.write(
    `${lines
      .slice(1, lines.indexOf(" */") + 1)
      .join("\n")
      .replace(/^ \*\/?/gm, "")}\n`,
  );
  process.exit(0);
}
const quick = flag("quick");
const modes = (opt("modes") ?? "separate,standalone").split(",").filter(Boolean) as Mode[];
const scenarios = new Set((opt("scenarios") ?? "1,2,3,4,5,6,7").split(",").map(Number));
const soakS = opt("soak") !== undefined ? parseSoakDuration(opt("soak")!) : null;
const soakRate = Number(opt("soak-rate") ?? 500);
if (!(soakRate > 0)) throw new Error(`--soak-rate=${opt("soak-rate")}: expected jobs per second`);
const outDir = path.resolve(opt("out") ?? path.join(ROOT, "bench", "results"));
for (const m of modes) if (m !== "separate" && m !== "standalone") throw new Error(`unknown mode ${m}`);

const P = quick
  ? {
      clients: 50,
      warmup: { rate: 100, durationS: 1 },
      rates: [100, 250],
      durationS: 5,
      s2: { durationS: 3, maxSteps: 2, modes: ["separate"] as Mode[] },
      raw: [
        { concurrency: 1, processes: 1 },
        { concurrency: 64, processes: 1 },
        { concurrency: 64, processes: 2 },
      ],
      rawDurationS: 1.5,
      connTargets: [1000],
      connModes: ["separate"] as Mode[],
      loadProcesses: 2,
      replayCounts: [10_000],
      replayModes: ["separate"] as Mode[],
      drainMs: 8_000,
      storm: {
        clients: 1000,
        active: 50,
        rate: 100,
        loadProcesses: 2,
        drainWindowMs: 3000,
        leadS: 2,
        afterS: 2,
        boundS: 30,
        drainMs: 10_000,
      },
    }
  : {
      clients: 50,
      warmup: { rate: 250, durationS: 3 },
      rates: [250, 500, 1000, 2000],
      durationS: 20,
      s2: { durationS: 30, maxSteps: 3, modes: ["separate", "standalone"] as Mode[] },
      raw: [
        { concurrency: 1, processes: 1 },
        { concurrency: 32, processes: 1 },
        { concurrency: 256, processes: 1 },
        { concurrency: 256, processes: 2 },
      ],
      rawDurationS: 4,
      connTargets: [1000, 10_000, 19_000],
      connModes: ["separate", "standalone"] as Mode[],
      loadProcesses: 4,
      replayCounts: [10_000, 100_000],
      replayModes: ["separate", "standalone"] as Mode[],
      drainMs: 10_000,
      storm: {
        clients: 19_000,
        active: 200,
        rate: 200,
        loadProcesses: 4,
        drainWindowMs: 30_000,
        leadS: 3,
        afterS: 5,
        boundS: 60,
        drainMs: 10_000,
      },
    };
// Overrides, for a closer look at one range: --rates=500,800 --duration=30
if (opt("rates"))
  P.rates = opt("rates")!
    .split(",")
    .map(Number)
    .filter((n) => n > 0);
if (opt("duration")) P.durationS = Number(opt("duration"));
const appNodeArgs: string[] = [];
if (opt("cpu-prof")) {
  const dir = path.resolve(opt("cpu-prof")!);
  mkdirSync(dir, { recursive: true });
  appNodeArgs.push("--cpu-prof", `--cpu-prof-dir=${dir}`);
}
const heapSnapshotDir = soakS !== null && opt("heap-snapshots") ? path.resolve(opt("heap-snapshots")!) : null;
if (heapSnapshotDir) {
  mkdirSync(heapSnapshotDir, { recursive: true });
  appNodeArgs.push("--heapsnapshot-signal=SIGUSR2", `--diagnostic-dir=${heapSnapshotDir}`);
}
if (appNodeArgs.length) setAppNodeArgs(appNodeArgs);
const P99_LIMIT_MS = 100;
const ABORT_BACKLOG_S = 3;
const HEARTBEAT_MS = 2000;
const RETRY_MS = 2000;
const SOAK_CLIENTS = 200;

const TOKEN_SECRET = randomBytes(48).toString("base64");
const tokens = createTokens([TOKEN_SECRET], 6 * 3600_000);
const HERALD_ENV: Record<string, string> = {
  TOKEN_SECRET,
  RATE_LIMIT_JOBS: "0",
  RATE_LIMIT_CLIENTS: "0",
  LOG_LEVEL: "warn",
  JOBS_MAX_QUEUED_PER_CLIENT: "1000000",
  WORKER_CONCURRENCY: "64",
  SSE_HEARTBEAT_MS: String(HEARTBEAT_MS),
  SSE_RETRY_MS: String(RETRY_MS),
  SSE_MAX_STREAMS_PER_CLIENT: "64",
  // Stopping a notifier at the end of a scenario is not measured (only scenario 7's, which sets
  // its own window): no 10 s drain each time.
  SSE_DRAIN_WINDOW: "0",
};

const t0 = Date.now();
const log = (s: string) =>
  process.stderr.write(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${s}\n`);

// ---------------------------------------------------------------------------------------------
// Cleanup: on exit, error and Ctrl-C

const tmp = mkdtempSync(path.join(os.tmpdir(), "herald-bench-"));
// Every process started inherits this: a leftover one could be found by it (/proc/<pid>/environ).
process.env.HERALD_BENCH_RUN = tmp;
let cleaning: Promise<void> | null = null;
const cleanup = () =>
  (cleaning ??= (async () => {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  })());
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(sig, () => {
    log(`${sig}: stopping every process started…`);
    interrupt();
    void cleanup().finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// Machine

function machine(): Machine {
  const cpuinfo = (() => {
    try {
      return readFileSync("/proc/cpuinfo", "utf8");
    } catch {
      return "";
    }
  })();
  const limits = (() => {
    try {
      return /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
    } catch {
      return null;
    }
  })();
  const git = (args: string[]) => spawnSync("git", args, { cwd: ROOT, encoding: "utf8" }).stdout?.trim() ?? "";
  const commit = git(["rev-parse", "--short", "HEAD"]);
  const dirty = git(["status", "--porcelain"]).length > 0;
  return {
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    memoryGiB: round(os.totalmem() / 1024 ** 3, 1),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    natsServer: benchNatsServerVersion(),
    openFilesLimit: limits ? `${limits[1]} soft / ${limits[2]} hard` : "unknown",
    herald: commit ? `${commit}${dirty ? " (with uncommitted changes)" : ""}` : "unknown",
    date: new Date().toISOString(),
  };
}

// ---------------------------------------------------------------------------------------------
// One mode: start herald, scenarios 1-3 on it, then fresh notifiers for 5 and 4

interface Stack {
  natsUrl: string;
  natsPid: number;
  apiUrl: string;
  notifierUrl: string;
  pids: Record<string, number>;
  /** Stops herald (keeps the separate nats-server, which the fresh notifiers use). */
  stopHerald(): Promise<void>;
  /** What the processes logged at warn or above so far (separate layout only). */
  logs(): Record<string, { count: number; samples: string[] }>;
  /** A fresh notifier (separate: a new notifier process, `extraEnv` added to its environment; one process: a new standalone). */
  freshNotifier(
    extraEnv?: Record<string, string>,
  ): Promise<{ url: string; pid: number; natsUrl: string; natsPid: number; stop(): Promise<void> }>;
  stop(): Promise<void>;
}

async function startStack(mode: Mode): Promise<Stack> {
  if (mode === "separate") {
    const natsLog = new LogTally();
    const nats = await startNats(path.join(tmp, "nats"), natsLog);
    const env = { ...HERALD_ENV, NATS_URL: nats.url };
    // The api first: it provisions the streams; then the others at once.
    const api = await startHeraldApp("api", env);
    const [worker, notifier] = await Promise.all([startHeraldApp("worker", env), startHeraldApp("notifier", env)]);
    const apps: RunningApp[] = [api, worker, notifier];
    return {
      natsUrl: nats.url,
      natsPid: nats.pid,
      apiUrl: api.url,
      notifierUrl: notifier.url,
      pids: { api: api.pid, worker: worker.pid, notifier: notifier.pid, "nats-server": nats.pid },
      stopHerald: async () => {
        await Promise.all(apps.map((a) => a.stop()));
      },
      logs: () => {
        const out: Record<string, { count: number; samples: string[] }> = {};
        for (const a of apps) {
          const w = a.warnings();
          if (w.count) out[a.kind] = { count: w.count, samples: w.samples };
        }
        if (natsLog.count) out["nats-server"] = { count: natsLog.count, samples: natsLog.samples };
        return out;
      },
      freshNotifier: async (extraEnv = {}) => {
        const n = await startHeraldApp("notifier", { ...env, ...extraEnv });
        return { url: n.url, pid: n.pid, natsUrl: nats.url, natsPid: nats.pid, stop: () => n.stop() };
      },
      stop: async () => {
        await Promise.all(apps.map((a) => a.stop()));
        await nats.stop();
      },
    };
  }
  let n = 0;
  const s = await startStandalone(path.join(tmp, `standalone-${n++}`), HERALD_ENV);
  return {
    natsUrl: s.natsUrl,
    natsPid: s.natsPid,
    apiUrl: s.url,
    notifierUrl: s.url,
    pids: { herald: s.pid, "nats-server": s.natsPid },
    stopHerald: () => s.stop(),
    logs: () => ({}),
    freshNotifier: async () => {
      const f = await startStandalone(path.join(tmp, `standalone-${n++}`), HERALD_ENV);
      return { url: f.url, pid: f.pid, natsUrl: f.natsUrl, natsPid: f.natsPid, stop: () => f.stop() };
    },
    stop: () => s.stop(),
  };
}

async function runMode(mode: Mode): Promise<ModeResult> {
  const label = mode === "separate" ? "separate" : "one process";
  const result: ModeResult = {
    mode,
    label,
    processes: {},
    e2e: [],
    throughput: null,
    raw: null,
    replay: null,
    connections: null,
    storm: null,
    rolling: null,
    errors: [],
    logs: {},
  };
  log(`${label}: starting herald…`);
  const stack = await startStack(mode);
  result.processes = stack.pids;
  let nc: NatsConnection | null = null;
  let bench: E2eBench | null = null;
  try {
    if (scenarios.has(1) || scenarios.has(2) || scenarios.has(3)) {
      nc = await connect({ servers: stack.natsUrl, name: "herald-bench" });
      const jsm = await jetstreamManager(nc);
      if (scenarios.has(1) || scenarios.has(2)) {
        const identities = await Promise.all(
          Array.from({ length: P.clients }, async (_, i) => {
            const id = `bench-e2e-${i}`;
            return { id, token: (await tokens.mint(id)).token };
          }),
        );
        bench = await E2eBench.open(
          {
            apiUrl: stack.apiUrl,
            notifierUrl: stack.notifierUrl,
            pids: stack.pids,
            jsm,
            ...(flag("watch-live") ? { watchLive: nc } : {}),
          },
          identities,
        );
        log(
          `${label}: ${P.clients} SSE clients connected; warm-up ${P.warmup.rate} jobs/s for ${P.warmup.durationS} s`,
        );
        const w = await bench.step({ ...P.warmup, drainMs: P.drainMs, abortBacklogS: ABORT_BACKLOG_S });
        log(`  warm-up: ${describe(w)}`);
      }
      if (scenarios.has(1) && bench) {
        for (const rate of P.rates) {
          log(`${label}: scenario 1: ${rate} jobs/s for ${P.durationS} s`);
          const r = await bench.step({
            rate,
            durationS: P.durationS,
            drainMs: P.drainMs,
            abortBacklogS: ABORT_BACKLOG_S,
          });
          r.passed = passes(r, P99_LIMIT_MS);
          log(`    ${describe(r)}`);
          result.e2e.push(r);
        }
      }
      if (scenarios.has(2) && bench && P.s2.modes.includes(mode)) {
        const s2 = await stepUp(bench, result.e2e, {
          durationS: P.s2.durationS,
          maxSteps: P.s2.maxSteps,
          p99LimitMs: P99_LIMIT_MS,
          drainMs: P.drainMs,
          abortBacklogS: ABORT_BACKLOG_S,
          log,
        });
        result.throughput = { ...s2, p99LimitMs: P99_LIMIT_MS, durationS: P.s2.durationS };
      } else if (scenarios.has(1) && result.e2e.length) {
        // Not stepped further: the best of scenario 1's steps.
        const ok = result.e2e.filter((r) => r.passed).map((r) => r.rate);
        result.throughput = {
          steps: [],
          best: ok.length ? Math.max(...ok) : null,
          bestFrom: ok.length ? "scenario 1" : null,
          p99LimitMs: P99_LIMIT_MS,
          durationS: P.durationS,
        };
      }
      bench?.close();
      bench = null;
      if (scenarios.has(3)) {
        const sized = [...result.e2e, ...(result.throughput?.steps ?? [])].filter((r) => r.eventBytes > 0);
        const eventBytes = sized.length ? Math.round(sized.reduce((s, r) => s + r.eventBytes, 0) / sized.length) : 330;
        log(
          `${label}: scenario 3: raw JetStream publishes of ${eventBytes} bytes, ${P.raw.map((v) => `${v.concurrency} in flight × ${v.processes} process(es)`).join(", ")}`,
        );
        const raw = await rawPublish({
          natsUrl: stack.natsUrl,
          natsPid: stack.natsPid,
          msgBytes: eventBytes,
          variants: P.raw,
          durationS: P.rawDurationS,
        });
        for (const x of raw)
          log(
            `    in flight ${x.concurrency} from ${x.processes} process(es): ${x.msgsPerS} msgs/s (p99 ${x.latency.p99} ms), cpu ${JSON.stringify(x.cpu)}`,
          );
        const best = Math.max(...raw.map((x) => x.msgsPerS));
        const heraldJobs = result.throughput?.best ?? null;
        result.raw = {
          results: raw,
          bestMsgsPerS: best,
          eventBytes,
          heraldMsgsPerS: heraldJobs !== null ? heraldJobs * 4 : null,
          fraction: heraldJobs !== null ? round((heraldJobs * 4) / best, 3) : null,
        };
      }
      await nc.close();
      nc = null;
    }

    result.logs = stack.logs();
    for (const [proc, l] of Object.entries(result.logs))
      log(`  ${proc} logged ${l.count} warning/error line(s), e.g. ${l.samples[0]}`);
    // 6 and 7: two fresh notifiers each, on this stack's nats-server, api and worker.
    for (const kind of ["kill", "term"] as const) {
      const n = kind === "kill" ? 6 : 7;
      if (!scenarios.has(n) || mode !== "separate") continue;
      checkInterrupted();
      const S = P.storm;
      log(
        `${label}: scenario ${n}: ${S.clients} clients on notifier A, ${S.active} active at ${S.rate} jobs/s; ` +
          (kind === "kill" ? "A is SIGKILLed" : `A gets SIGTERM (SSE_DRAIN_WINDOW=${S.drainWindowMs}ms)`) +
          "; the clients resume on notifier B",
      );
      try {
        const r = await stormBench({
          kind,
          apiUrl: stack.apiUrl,
          pids: { "nats-server": stack.natsPid, api: stack.pids.api!, worker: stack.pids.worker! },
          startNotifier: (extraEnv) => stack.freshNotifier(extraEnv),
          tokenSecret: TOKEN_SECRET,
          mint: async (id) => (await tokens.mint(id)).token,
          ...S,
          retryMs: RETRY_MS,
          log,
        });
        if (kind === "kill") result.storm = r;
        else result.rolling = r;
      } catch (err) {
        result.errors.push(`scenario ${n}: ${err instanceof Error ? err.message.split("\n")[0]! : String(err)}`);
        log(`${label}: scenario ${n}: ERROR ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      }
    }
    const want5 = scenarios.has(5) && P.replayModes.includes(mode);
    const want4 = scenarios.has(4) && P.connModes.includes(mode);
    if (want5 || want4) await stack.stopHerald();
    if (want5) {
      log(`${label}: scenario 5: replay on a fresh ${mode === "separate" ? "notifier" : "herald process"}`);
      const n = await stack.freshNotifier();
      try {
        result.replay = await replayBench({
          natsUrl: n.natsUrl,
          notifierUrl: n.url,
          notifierPid: n.pid,
          natsPid: n.natsPid,
          mint: async (id) => (await tokens.mint(id)).token,
          counts: P.replayCounts,
          timeoutMs: 120_000,
          log,
        });
      } finally {
        await n.stop();
      }
    }
    if (want4) {
      log(
        `${label}: scenario 4: idle SSE connections on a fresh ${mode === "separate" ? "notifier" : "herald process"}: ${P.connTargets.join(", ")}`,
      );
      const n = await stack.freshNotifier();
      try {
        result.connections = await connectionsBench({
          notifierUrl: n.url,
          notifierPid: n.pid,
          tokenSecret: TOKEN_SECRET,
          targets: P.connTargets,
          loadProcesses: P.loadProcesses,
          heartbeatMs: HEARTBEAT_MS,
          log,
        });
      } finally {
        await n.stop();
      }
    }
  } catch (err) {
    result.errors.push(err instanceof Error ? err.message.split("\n")[0]! : String(err));
    log(`${label}: ERROR ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    bench?.close();
    await nc?.close().catch(() => undefined);
    await stack.stop();
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Notes drawn from the figures

function notes(r: BenchResult): string[] {
  const out: string[] = [];
  for (const mr of r.modes) {
    const all: StepResult[] = [...mr.e2e, ...(mr.throughput?.steps ?? [])];
    if (!all.length) continue;
    const top = all.reduce((a, b) => (b.rate > a.rate ? b : a));
    const herald = Object.entries(top.cpu)
      .filter(([k]) => !["generator", "total", "others", "steal"].includes(k))
      .map(([k, v]) => `${k} ${v}%`)
      .join(", ");
    const saturated = top.cpu.total! >= 170;
    out.push(
      `${mr.label}: at ${top.rate} jobs/s the processes used ${top.cpu.total}% CPU of the 200% the 2 cores have ` +
        `(${herald}; the load generator ${top.cpu.generator}%, i.e. ${Math.round((top.cpu.generator! / Math.max(1, top.cpu.total!)) * 100)}% of what was used). ` +
        (saturated
          ? "The machine is CPU-saturated there: herald and the generator compete for the same two cores, so the figures at that rate are a lower bound for herald on a machine of its own."
          : "The machine was not CPU-saturated there.") +
        (top.sendLag.p99 > 5
          ? ` The generator fell behind its schedule (send lag p99 ${top.sendLag.p99} ms), which the latency figures include.`
          : ""),
    );
  }
  for (const mr of r.modes) {
    for (const s of [...mr.e2e, ...(mr.throughput?.steps ?? [])]) {
      if (s.liveOutOfOrder?.count) {
        out.push(
          `${mr.label} ${s.rate} jobs/s: the bench's own subscription to live.> got ${s.liveOutOfOrder.count} message(s) after a higher sequence of the same client (${s.liveOutOfOrder.samples.join("; ")}).`,
        );
      }
      if (!s.missing && !s.duplicates) continue;
      const detail = s.missingDetail
        .slice(0, 5)
        .map((d) => {
          const st = d.state as {
            http?: number;
            status?: string;
            event?: string;
            attempt?: number;
            eventId?: number;
            error?: unknown;
          };
          return (
            `job ${d.jobId}: HTTP ${st.http ?? "?"}, status ${st.status ?? "?"}, attempt ${st.attempt ?? "?"}, eventId ${st.eventId ?? "?"}${st.error ? `, error ${JSON.stringify(st.error)}` : ""}` +
            ` (the client's stream ${d.sseGotEventId ? `did get id ${st.eventId}, as \`${d.sseGotEventId}\`` : `never got id ${st.eventId}`}` +
            `${d.republished === undefined ? "" : d.republished ? "; nats-server did republish it on live.>" : "; nats-server never republished it on live.>"})`
          );
        })
        .join("; ");
      out.push(
        `${mr.label} ${s.rate} jobs/s: ${s.missing} accepted job(s) whose \`job.succeeded\` did not reach the client within ${P.drainMs / 1000} s of the last send` +
          `${s.late ? ` (${s.late} came later)` : ""}${s.duplicates ? `, ${s.duplicates} duplicate(s)` : ""}${s.aborted ? " (the step was aborted: overload)" : ""}` +
          `${detail ? `. GET /v1/jobs/:id then said: ${detail}` : ""}.` +
          (s.liveOutOfOrder
            ? ""
            : " (`--watch-live` also tells whether nats-server republished it, and in which order.)"),
      );
    }
  }
  for (const mr of r.modes) {
    const steps = mr.e2e.filter((s) => !s.aborted && s.latency.count > 0);
    if (!steps.length) continue;
    const parts = steps.map(
      (s) =>
        `${s.rate}/s: 202 p50 ${s.ack.p50} of ${s.latency.p50} ms end-to-end, p99 ${s.ack.p99} of ${s.latency.p99} ms`,
    );
    out.push(
      `${mr.label}: how much of the end-to-end time is the submit (scheduled send → 202, which includes storing the queued event and the job in JetStream): ${parts.join("; ")}. ` +
        "The rest is the worker and the notifier (and the generator's SSE reading).",
    );
  }
  for (const mr of r.modes) {
    for (const [proc, l] of Object.entries(mr.logs ?? {})) {
      out.push(
        `${mr.label}: ${proc} logged ${l.count} warning/error line(s) during scenarios 1–3, e.g. \`${l.samples.slice(0, 3).join("` / `")}\`.`,
      );
    }
  }
  const busy: string[] = [];
  for (const mr of r.modes) {
    for (const s of [...mr.e2e, ...(mr.throughput?.steps ?? [])]) {
      if ((s.cpu.others ?? 0) >= 15 || (s.cpu.steal ?? 0) >= 10)
        busy.push(`${mr.label} ${s.rate} jobs/s: others ${s.cpu.others}%, steal ${s.cpu.steal}%`);
    }
    for (const x of [mr.storm, mr.rolling]) {
      if (x && ((x.cpu.others ?? 0) >= 15 || (x.cpu.steal ?? 0) >= 10))
        busy.push(`${mr.label} scenario ${x.kind === "kill" ? 6 : 7}: others ${x.cpu.others}%, steal ${x.cpu.steal}%`);
    }
  }
  if (busy.length) {
    out.push(
      `Processes outside the bench (or the hypervisor: steal) used CPU during some steps, which disturbs those figures: ${busy.join("; ")}.`,
    );
  }
  for (const mr of r.modes) {
    for (const x of [mr.storm, mr.rolling]) {
      if (!x?.listenOverflows) continue;
      out.push(
        `${mr.label}: scenario ${x.kind === "kill" ? 6 : 7}: the kernel dropped ${x.listenOverflows} connection attempt(s) while the clients came back, because a listener's accept queue was full ` +
          "(`ListenOverflows` in /proc/net/netstat; Node listens with a backlog of 511 unless told otherwise): TCP retried those SYNs after 1 s (then 3 s, …), which shows in “its start → TCP connected”.",
      );
    }
  }
  for (const mr of r.modes) {
    const c = mr.connections;
    if (!c) continue;
    out.push(`${mr.label}: scenario 4's ${c.loadProcesses} load processes used ${c.loadCpuS} CPU-seconds in all.`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const m = machine();
  log(
    `herald bench${quick ? " --quick" : ""}: ${soakS !== null ? `soak ${soakS} s at ${soakRate} jobs/s` : `modes ${modes.join(", ")}; scenarios ${[...scenarios].join(", ")}`}; ` +
      `${m.cpu} × ${m.cores}, ${m.natsServer}, Node ${m.node}`,
  );
  // How busy the machine is before anything starts (other processes disturb every figure).
  const m0 = machineCpuSeconds();
  await sleep(2000);
  const m1 = machineCpuSeconds();
  const busyBefore = round(((m1.busy - m0.busy) / 2) * 100, 0);
  log(
    `machine CPU busy before start: ${busyBefore}% of ${m.cores * 100}% (load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(", ")})`,
  );
  const modeResults: ModeResult[] = [];
  let soak: SoakResult | null = null;
  const errors: string[] = [];
  if (soakS !== null) {
    // The soak alone: its own stack (separate layout).
    try {
      soak = await soakBench({
        tmp,
        env: HERALD_ENV,
        mint: async (id) => (await tokens.mint(id)).token,
        durationS: soakS,
        rate: soakRate,
        clients: SOAK_CLIENTS,
        heapSnapshotDir,
        log,
      });
    } catch (err) {
      errors.push(`soak: ${err instanceof Error ? err.message.split("\n")[0]! : String(err)}`);
      log(`soak: ERROR ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  } else {
    for (const mode of modes) {
      checkInterrupted();
      modeResults.push(await runMode(mode));
    }
  }
  const result: BenchResult = {
    quick,
    startedAt: new Date(t0).toISOString(),
    wallS: round((Date.now() - t0) / 1000, 0),
    machine: m,
    machineBusyBeforePct: busyBefore,
    settings:
      soakS !== null
        ? {
            "soak s": soakS,
            "soak rate jobs/s": soakRate,
            clients: SOAK_CLIENTS,
            "SSE streams": "one per client on /v1/events",
            env: Object.fromEntries(Object.entries(HERALD_ENV).filter(([k]) => k !== "TOKEN_SECRET")),
          }
        : {
            clients: P.clients,
            "SSE streams": "one per client on /v1/events",
            rates: P.rates,
            "step duration s": P.durationS,
            "scenario 2 step s": P.s2.durationS,
            "p99 limit ms": P99_LIMIT_MS,
            "abort when backlog > s of jobs": ABORT_BACKLOG_S,
            ...(scenarios.has(6) || scenarios.has(7) ? { "scenarios 6, 7": P.storm } : {}),
            env: Object.fromEntries(Object.entries(HERALD_ENV).filter(([k]) => k !== "TOKEN_SECRET")),
          },
    modes: modeResults,
    soak,
    errors,
    notes: [],
  };
  result.notes = [
    `Before the bench started, the machine's CPU was ${busyBefore}% busy (of ${m.cores * 100}%), load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(", ")} at the end; “others” in the CPU columns is what processes outside the bench used meanwhile.`,
    ...notes(result),
  ];
  const md = renderMarkdown(result);
  mkdirSync(outDir, { recursive: true });
  const stamp = m.date.replace(/[:.]/g, "-");
  writeFileSync(path.join(outDir, `${stamp}.md`), md);
  writeFileSync(path.join(outDir, `${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(outDir, "latest.md"), md);
  process.stdout.write(`${md}\n`);
  log(`written: ${path.relative(ROOT, path.join(outDir, `${stamp}.md`))}, .json and latest.md (${result.wallS} s)`);
  return modeResults.some((mr) => mr.errors.length) || errors.length ? 1 : 0;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
} finally {
  await cleanup();
}
process.exit(code);
