/**
 * The soak (`--soak=<duration>`): separate processes (nats-server, api, worker, notifier), 200 SSE
 * clients, `echo` jobs at a fixed rate (500 jobs/s unless `--soak-rate=N`) for the whole duration,
 * as consecutive open-loop steps of scenario 1's E2eBench (60 s each: every step's figures are
 * kept, and no step's bookkeeping grows with the duration). Every 10 s each process's RSS
 * (/proc) and each app's V8 heap used (`herald_nodejs_heap_size_used_bytes` from its /metrics) are
 * sampled; per process: start, end, max and the slope (MB per hour, least squares over the second
 * half of the samples, so that the warm-up does not count). With `--heap-snapshots=DIR` every app
 * writes a heap snapshot (SIGUSR2; the apps are started with --heapsnapshot-signal) before the load
 * and at the end, to compare in Chrome DevTools.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { E2eBench, type StepResult } from "./e2e.ts";
import { LogTally, memory, round, sleep, startHeraldApp, startNats, type RunningApp } from "./procs.ts";
import { metricSum } from "./metricsText.ts";

export interface SoakSample {
  /** Seconds since the load started (0: before it). */
  t: number;
  rssMB: Record<string, number>;
  heapMB: Record<string, number>;
}

export interface SoakSeries {
  start: number;
  end: number;
  max: number;
  /** MB per hour, least squares over the second half of the samples; null with fewer than 2 there. */
  slopeMBPerH: number | null;
}

export interface SoakProcess {
  name: string;
  pid: number;
  rssMB: SoakSeries;
  heapMB: SoakSeries | null;
}

export interface SoakStep {
  /** Seconds since the load started, at the step's start. */
  at: number;
  durationS: number;
  sent: number;
  accepted: number;
  done: number;
  missing: number;
  errors: number;
  aborted: boolean;
  p50: number;
  p99: number;
  max: number;
  cpu: Record<string, number>;
}

export interface SoakResult {
  durationS: number;
  rate: number;
  clients: number;
  stepS: number;
  sampleEveryS: number;
  jobs: {
    scheduled: number;
    sent: number;
    accepted: number;
    done: number;
    /** Accepted jobs whose `job.succeeded` never reached its client (not even late). */
    lost: number;
    late: number;
    errors: number;
    duplicates: number;
    sseDrops: number;
    abortedSteps: number;
  };
  steps: SoakStep[];
  processes: SoakProcess[];
  samples: SoakSample[];
  heapSnapshots: { dir: string; files: Record<string, string[]> } | null;
  logs: Record<string, { count: number; samples: string[] }>;
  wallS: number;
}

const MB = 1024 * 1024;
const SAMPLE_EVERY_S = 10;
const STEP_S = 60;

async function heapUsed(url: string): Promise<number> {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    return metricSum(text, "herald_nodejs_heap_size_used_bytes") ?? Number.NaN;
  } catch {
    return NaN;
  }
}

/** Least-squares slope of y over x (hours), over the second half of the points. */
function slopePerHour(points: Array<{ t: number; v: number }>): number | null {
  const p = points.slice(Math.floor(points.length / 2)).filter((x) => Number.isFinite(x.v));
  if (p.length < 2) return null;
  const n = p.length;
  const mx = p.reduce((s, x) => s + x.t, 0) / n;
  const my = p.reduce((s, x) => s + x.v, 0) / n;
  let num = 0;
  let den = 0;
  for (const x of p) {
    num += (x.t - mx) * (x.v - my);
    den += (x.t - mx) ** 2;
  }
  return den > 0 ? round((num / den) * 3600, 1) : null;
}

function series(points: Array<{ t: number; v: number }>): SoakSeries {
  const finite = points.filter((x) => Number.isFinite(x.v));
  return {
    start: finite[0]?.v ?? NaN,
    end: finite[finite.length - 1]?.v ?? NaN,
    max: finite.length ? Math.max(...finite.map((x) => x.v)) : NaN,
    slopeMBPerH: slopePerHour(points),
  };
}

/** Parses `30m`, `90s`, `1h`, `1h30m` or a number of seconds. */
export function parseSoakDuration(s: string): number {
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s);
  let total = 0;
  let rest = s;
  const unit: Record<string, number> = { h: 3600, m: 60, s: 1 };
  while (rest.length) {
    const m = /^(\d+(?:\.\d+)?)(h|m|s)/.exec(rest);
    if (!m) throw new Error(`--soak=${s}: expected a duration like 90s, 30m, 1h or 1h30m`);
    total += Number(m[1]) * unit[m[2]!]!;
    rest = rest.slice(m[0].length);
  }
  if (total <= 0) throw new Error(`--soak=${s}: expected a duration like 90s, 30m, 1h or 1h30m`);
  return total;
}

export async function soakBench(o: {
  tmp: string;
  env: Record<string, string>;
  mint(clientId: string): Promise<string>;
  durationS: number;
  rate: number;
  clients: number;
  /** Where the apps write heap snapshots on SIGUSR2 (the bench started them with --heapsnapshot-signal=SIGUSR2 --diagnostic-dir=DIR), or null. */
  heapSnapshotDir: string | null;
  log(s: string): void;
}): Promise<SoakResult> {
  const wall0 = performance.now();
  const log = (s: string) => o.log(`  soak: ${s}`);
  const natsLog = new LogTally();
  const nats = await startNats(path.join(o.tmp, "nats-soak"), natsLog);
  const env = { ...o.env, NATS_URL: nats.url };
  const apps: RunningApp[] = [];
  let bench: E2eBench | null = null;
  const nc = await connect({ servers: nats.url, name: "herald-bench-soak" });
  let timer: NodeJS.Timeout | null = null;
  try {
    apps.push(await startHeraldApp("api", env));
    apps.push(...(await Promise.all([startHeraldApp("worker", env), startHeraldApp("notifier", env)])));
    const [api, , notifier] = apps as [RunningApp, RunningApp, RunningApp];
    const pids: Record<string, number> = Object.fromEntries(apps.map((a) => [a.kind, a.pid]));
    pids["nats-server"] = nats.pid;
    const jsm = await jetstreamManager(nc);
    const identities = await Promise.all(
      Array.from({ length: o.clients }, async (_, i) => {
        const id = `bench-soak-${i}`;
        return { id, token: await o.mint(id) };
      }),
    );
    bench = await E2eBench.open({ apiUrl: api.url, notifierUrl: notifier.url, pids, jsm }, identities);
    log(`${o.clients} SSE clients connected; ${o.rate} jobs/s for ${o.durationS} s, sampled every ${SAMPLE_EVERY_S} s`);

    const snapshots: Record<string, string[]> = {};
    const snapshot = async (label: string) => {
      if (!o.heapSnapshotDir) return;
      const before = new Set(readdirSync(o.heapSnapshotDir));
      for (const a of apps) process.kill(a.pid, "SIGUSR2");
      await sleep(200);
      // Writing blocks the process: it answers again once its snapshot is out.
      await Promise.all(
        apps.map((a) =>
          fetch(`${a.url}/healthz`, { signal: AbortSignal.timeout(120_000) })
            .then((r) => r.arrayBuffer())
            .catch(() => undefined),
        ),
      );
      for (const f of readdirSync(o.heapSnapshotDir)) {
        if (before.has(f) || !f.endsWith(".heapsnapshot")) continue;
        const app = apps.find((a) => f.includes(`.${a.pid}.`));
        (snapshots[app?.kind ?? "?"] ??= []).push(f);
      }
      log(`heap snapshots (${label}) written to ${o.heapSnapshotDir}`);
    };
    // Before the first sample: writing a snapshot grows the process's RSS for good, so every
    // sample has that in it and the slope does not.
    await snapshot("before the load");

    const samples: SoakSample[] = [];
    let t0 = performance.now();
    const sample = async () => {
      const t = round((performance.now() - t0) / 1000, 1);
      const rssMB: Record<string, number> = {};
      const heapMB: Record<string, number> = {};
      for (const [name, pid] of Object.entries(pids)) rssMB[name] = round(memory(pid).rss / MB, 1);
      await Promise.all(apps.map(async (a) => (heapMB[a.kind] = round((await heapUsed(a.url)) / MB, 1))));
      samples.push({ t, rssMB, heapMB });
    };
    await sample();
    t0 = performance.now();
    samples[0]!.t = 0;
    let sampling: Promise<void> | null = null;
    timer = setInterval(() => {
      sampling ??= sample().finally(() => (sampling = null));
    }, SAMPLE_EVERY_S * 1000);

    const steps: SoakStep[] = [];
    const results: StepResult[] = [];
    for (;;) {
      const elapsed = (performance.now() - t0) / 1000;
      const left = o.durationS - elapsed;
      if (left < 1) break;
      const durationS = Math.min(STEP_S, left);
      const r = await bench.step({ rate: o.rate, durationS, drainMs: 10_000, abortBacklogS: 10 });
      results.push(r);
      steps.push({
        at: round(elapsed, 1),
        durationS: round(durationS, 1),
        sent: r.sent,
        accepted: r.accepted,
        done: r.received,
        missing: r.missing,
        errors: r.errors,
        aborted: r.aborted,
        p50: r.latency.p50,
        p99: r.latency.p99,
        max: r.latency.max,
        cpu: r.cpu,
      });
      const last = samples[samples.length - 1]!;
      log(
        `${round((performance.now() - t0) / 1000, 0)} s: ${r.received}/${r.accepted} done, ${r.missing} missing, ${r.errors} errors${r.aborted ? " (ABORTED: overloaded)" : ""}, ` +
          `p99 ${r.latency.p99} ms; RSS ${JSON.stringify(last.rssMB)} MB, heap ${JSON.stringify(last.heapMB)} MB`,
      );
    }
    clearInterval(timer);
    timer = null;
    await sampling;
    await sample();
    await snapshot("at the end");

    const processes: SoakProcess[] = Object.entries(pids).map(([name, pid]) => ({
      name,
      pid,
      rssMB: series(samples.map((s) => ({ t: s.t, v: s.rssMB[name] ?? NaN }))),
      heapMB: name === "nats-server" ? null : series(samples.map((s) => ({ t: s.t, v: s.heapMB[name] ?? NaN }))),
    }));
    const sum = (f: (r: StepResult) => number) => results.reduce((s, r) => s + f(r), 0);
    const logs: Record<string, { count: number; samples: string[] }> = {};
    for (const a of apps) {
      const w = a.warnings();
      if (w.count) logs[a.kind] = { count: w.count, samples: w.samples };
    }
    if (natsLog.count) logs["nats-server"] = { count: natsLog.count, samples: natsLog.samples };
    return {
      durationS: o.durationS,
      rate: o.rate,
      clients: o.clients,
      stepS: STEP_S,
      sampleEveryS: SAMPLE_EVERY_S,
      jobs: {
        scheduled: sum((r) => r.scheduled),
        sent: sum((r) => r.sent),
        accepted: sum((r) => r.accepted),
        done: sum((r) => r.received),
        lost: sum((r) => r.missing - r.late),
        late: sum((r) => r.late),
        errors: sum((r) => r.errors),
        duplicates: sum((r) => r.duplicates),
        sseDrops: sum((r) => r.sseDrops),
        abortedSteps: results.filter((r) => r.aborted).length,
      },
      steps,
      processes,
      samples,
      heapSnapshots: o.heapSnapshotDir ? { dir: o.heapSnapshotDir, files: snapshots } : null,
      logs,
      wallS: round((performance.now() - wall0) / 1000, 1),
    };
  } finally {
    if (timer) clearInterval(timer);
    bench?.close();
    await nc.close().catch(() => undefined);
    for (const a of apps.reverse()) await a.stop().catch(() => undefined);
    await nats.stop();
  }
}
