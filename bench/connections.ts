/**
 * Scenario 4: N concurrent idle SSE clients on one notifier process, opened by several load
 * processes (bench/sseLoad.ts) from loopback source addresses 127.0.0.2…127.0.0.20. Per step:
 * connects per second, the notifier's RSS and V8 heap per connection, and whether every stream
 * gets its heartbeats on time.
 */
import { LoadProc as BaseLoadProc } from "./loadProc.ts";
import type { LoadCommand, LoadReply, LoadStats } from "./sseLoad.ts";
import { CpuMeter, memory, round, sleep, track } from "./procs.ts";
import { metricSum } from "./metricsText.ts";

export interface ConnectionStep {
  target: number;
  open: number;
  failed: number;
  failReasons: Record<string, number>;
  connectS: number;
  connectsPerS: number;
  rssMB: number;
  rssDeltaMB: number;
  rssPerConnKB: number;
  /** RSS added since the previous step, per connection added. */
  rssMarginalPerConnKB: number;
  heapUsedMB: number;
  heapPerConnKB: number;
  sseConnectionsGauge: number;
  heartbeat: {
    checked: number;
    withHeartbeat: number;
    withTwo: number;
    meanGapMs: number;
    maxGapMs: number;
    windowMs: number;
  };
  dropped: number;
  /** The notifier's CPU while holding the connections idle (heartbeats only), % of a core. */
  idleCpu: number;
  /** While connecting, % of a core: the notifier, the load processes together, the rest of the machine. */
  connectCpu: { notifier: number; load: number; others: number };
  loadProcsRssMB: number;
}

export interface ConnectionsResult {
  heartbeatMs: number;
  loadProcesses: number;
  sourceAddresses: number;
  baseline: { rssMB: number; heapUsedMB: number };
  steps: ConnectionStep[];
  loadCpuS: number;
}

const MB = 1024 * 1024;

/** One of this scenario's load processes. */
class LoadProc extends BaseLoadProc<LoadCommand, LoadReply> {
  constructor(index: number, env: Record<string, string>) {
    super(new URL("./sseLoad.ts", import.meta.url), index, env, { name: "load process" });
  }
}

async function notifierMetrics(url: string): Promise<{ heapUsed: number; connections: number }> {
  const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
  const value = (name: string) => metricSum(text, name) ?? Number.NaN;
  return { heapUsed: value("herald_nodejs_heap_size_used_bytes"), connections: value("herald_sse_connections") };
}

export async function connectionsBench(o: {
  notifierUrl: string;
  notifierPid: number;
  tokenSecret: string;
  targets: number[];
  loadProcesses: number;
  heartbeatMs: number;
  log: (s: string) => void;
}): Promise<ConnectionsResult> {
  const addresses = Array.from({ length: 19 }, (_, i) => `127.0.0.${i + 2}`);
  const procs: LoadProc[] = [];
  const untrack: Array<() => void> = [];
  for (let p = 0; p < o.loadProcesses; p++) {
    const mine = addresses.filter((_, i) => i % o.loadProcesses === p);
    const lp = new LoadProc(p, {
      BENCH_NOTIFIER_URL: o.notifierUrl,
      BENCH_LOCAL_ADDRESSES: mine.join(","),
      TOKEN_SECRET: o.tokenSecret,
    });
    procs.push(lp);
    untrack.push(track({ name: `sseLoad ${lp.child.pid}`, stop: () => lp.stop() }));
  }
  try {
    await Promise.all(procs.map((p) => p.next("ready", 60_000)));
    const max = Math.max(...o.targets);
    const share = (total: number, p: number) =>
      Math.floor(total / o.loadProcesses) + (p < total % o.loadProcesses ? 1 : 0);
    await Promise.all(procs.map((lp, p) => lp.ask({ type: "prepare", count: share(max, p) }, "prepared")));

    await sleep(1000);
    const base = { rss: memory(o.notifierPid).rss, heap: (await notifierMetrics(o.notifierUrl)).heapUsed };
    o.log(`  scenario 4: notifier baseline RSS ${round(base.rss / MB, 1)} MB, heap ${round(base.heap / MB, 1)} MB`);
    const steps: ConnectionStep[] = [];
    let current = 0;
    let prevRss = base.rss;
    for (const target of o.targets) {
      const add = target - current;
      const t0 = performance.now();
      const connectMeter = new CpuMeter({
        notifier: o.notifierPid,
        ...Object.fromEntries(procs.map((lp, p) => [`load${p}`, lp.child.pid!])),
      });
      const opened = await Promise.all(
        procs.map((lp, p) =>
          lp.ask({ type: "open", count: share(target, p) - share(current, p), inflight: 128 }, "opened", 300_000),
        ),
      );
      const connectS = (performance.now() - t0) / 1000;
      const cc = connectMeter.read();
      const connectCpu = {
        notifier: cc.notifier!,
        load: procs.reduce((sum, _lp, p) => sum + (cc[`load${p}`] ?? 0), 0),
        others: cc.others!,
      };
      const ok = opened.reduce((s, r) => s + r.ok, 0);
      const failed = opened.reduce((s, r) => s + r.failed, 0);
      const reasons: Record<string, number> = {};
      for (const r of opened) for (const [k, v] of Object.entries(r.reasons)) reasons[k] = (reasons[k] ?? 0) + v;
      current = target;

      // Let the notifier settle, then read its memory.
      await sleep(1500);
      const mem = memory(o.notifierPid);
      const metrics = await notifierMetrics(o.notifierUrl);

      // Heartbeats: every connection should get two in 2 intervals + a bit.
      await Promise.all(procs.map((lp) => lp.ask({ type: "mark" }, "marked")));
      const windowMs = o.heartbeatMs * 2 + 1000;
      const cpu = new CpuMeter({ notifier: o.notifierPid });
      await sleep(windowMs);
      const idleCpu = cpu.read().notifier!;
      const stats: LoadStats[] = (await Promise.all(procs.map((lp) => lp.ask({ type: "stats" }, "stats")))).map(
        (r) => r.stats,
      );
      const sum = (f: (s: LoadStats) => number) => stats.reduce((s, x) => s + f(x), 0);
      const openNow = sum((s) => s.open);
      const step: ConnectionStep = {
        target,
        open: openNow,
        failed,
        failReasons: reasons,
        connectS: round(connectS, 2),
        connectsPerS: Math.round(add / connectS),
        rssMB: round(mem.rss / MB, 1),
        rssDeltaMB: round((mem.rss - base.rss) / MB, 1),
        rssPerConnKB: round((mem.rss - base.rss) / 1024 / Math.max(1, openNow), 1),
        rssMarginalPerConnKB: round((mem.rss - prevRss) / 1024 / Math.max(1, ok), 1),
        heapUsedMB: round(metrics.heapUsed / MB, 1),
        heapPerConnKB: round((metrics.heapUsed - base.heap) / 1024 / Math.max(1, openNow), 1),
        sseConnectionsGauge: metrics.connections,
        heartbeat: {
          checked: openNow,
          withHeartbeat: sum((s) => s.withHeartbeat),
          withTwo: sum((s) => s.withTwoHeartbeats),
          meanGapMs: Math.round(sum((s) => s.meanGapMs) / stats.length),
          maxGapMs: Math.max(...stats.map((s) => s.maxGapMs)),
          windowMs,
        },
        dropped: sum((s) => s.dropped),
        idleCpu,
        connectCpu,
        loadProcsRssMB: sum((s) => s.rssMB),
      };
      prevRss = mem.rss;
      steps.push(step);
      o.log(
        `  scenario 4: ${openNow}/${target} open (${failed} failed${failed ? ` ${JSON.stringify(reasons)}` : ""}), ` +
          `${step.connectsPerS} connects/s (CPU: notifier ${connectCpu.notifier}%, load ${connectCpu.load}%, others ${connectCpu.others}%), RSS ${step.rssMB} MB (${step.rssPerConnKB} KB/conn), heap ${step.heapUsedMB} MB, ` +
          `heartbeats ${step.heartbeat.withTwo}/${openNow} got 2 (max gap ${step.heartbeat.maxGapMs} ms)`,
      );
      if (failed > 0 && ok === 0) break;
    }
    const final = await Promise.all(procs.map((lp) => lp.ask({ type: "stats" }, "stats")));
    return {
      heartbeatMs: o.heartbeatMs,
      loadProcesses: o.loadProcesses,
      sourceAddresses: addresses.length,
      baseline: { rssMB: round(base.rss / MB, 1), heapUsedMB: round(base.heap / MB, 1) },
      steps,
      loadCpuS: round(
        final.reduce((s, r) => s + r.stats.cpuS, 0),
        1,
      ),
    };
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    for (const u of untrack) u();
  }
}
