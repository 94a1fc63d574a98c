/**
 * Scenarios 6 and 7: every client of one notifier moves to another at once.
 *
 * Two fresh notifier processes, A and B, on the same nats-server (the api and the worker are the
 * stack's). N clients — each its own client id — open `GET /v1/events` on A (live: no
 * Last-Event-ID), from load processes (bench/stormLoad.ts) bound to loopback source addresses
 * 127.0.0.2…127.0.0.20. A submitter here POSTs `echo` jobs for the first `active` clients,
 * round-robin, open loop at a fixed total rate, from a few seconds before A goes until a few
 * seconds after every client is back; then it stops and the events drain.
 *
 * - 6 "storm": A is SIGKILLed. Each client sees its stream end and reconnects to B after the
 *   stream's `retry:`, with `Last-Event-ID`; a 503 is retried after its Retry-After.
 * - 7 "rolling restart": A is stopped with SIGTERM, with SSE_DRAIN_WINDOW in its environment:
 *   the clients reconnect to B as their streams end.
 *
 * Measured: per client, the time from the stop (and from its own first reconnect attempt, and
 * from its stream's end) until B's first frame; 503s and other failures; for the active clients,
 * jobs lost (a `job.succeeded` that never reached its client), duplicated or out of order event
 * ids; B's shed / stream-error / resume metrics when it has them; CPU per process.
 */
import { LoadProc as BaseLoadProc } from "./loadProc.ts";
import http from "node:http";
import { postJob } from "./postJob.ts";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { StormCommand, StormReply, StormResults, StormStats } from "./stormLoad.ts";
import { CpuMeter, memory, round, sleep, track } from "./procs.ts";
import { histogramQuantile, metricSum } from "./metricsText.ts";

export type StormKind = "kill" | "term";

export interface StormNotifier {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

export interface StormOptions {
  kind: StormKind;
  apiUrl: string;
  /** The stack's processes whose CPU is recorded (nats-server, api, worker). */
  pids: Record<string, number>;
  /** A fresh notifier process on the stack's nats-server, with these variables added to its environment. */
  startNotifier(extraEnv: Record<string, string>): Promise<StormNotifier>;
  tokenSecret: string;
  mint(clientId: string): Promise<string>;
  clients: number;
  active: number;
  /** Jobs per second, in all. */
  rate: number;
  loadProcesses: number;
  /** The notifier's `retry:` (SSE_RETRY_MS): what a client waits if it saw none. */
  retryMs: number;
  /** SSE_DRAIN_WINDOW for A (scenario 7), in ms. */
  drainWindowMs: number;
  /** Seconds of jobs before A goes. */
  leadS: number;
  /** Seconds of jobs after every client is back. */
  afterS: number;
  /** How long after A goes the clients keep trying (then: never served). */
  boundS: number;
  /** How long to wait for the last events once the submitter stopped. */
  drainMs: number;
  log(s: string): void;
}

export interface Summary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export interface StormResult {
  kind: StormKind;
  clients: number;
  active: number;
  rate: number;
  loadProcesses: number;
  retryMs: number;
  /** SSE_DRAIN_WINDOW given to A (scenario 7), in ms, else null. */
  drainWindowMs: number | null;
  boundS: number;
  opened: number;
  openFailed: number;
  openReasons: Record<string, number>;
  /** Clients whose stream on A ended after the stop, and when (ms after the stop): first, median, last. */
  ended: number;
  endSpreadMs: { first: number; p50: number; last: number };
  /** Clients opened on A whose stream did not end within boundS. */
  neverEnded: number;
  served: number;
  /** Clients opened on A and not served again by B within boundS. */
  neverServed: number;
  /** Streams that ended before A was stopped (an unexpected drop), and streams on B that ended again after serving. */
  droppedEarly: number;
  reDrops: number;
  /** The stop (SIGKILL / SIGTERM) → B's first frame, per client. */
  fromStop: Summary;
  /** The client's first reconnect attempt → B's first frame. */
  fromReturn: Summary;
  /** The client's stream ended → B's first frame. */
  fromEnd: Summary;
  /** "From its return", split: clients that resumed (sent Last-Event-ID: B reads RESULTS first) and clients that came back live. */
  fromReturnResumed: Summary;
  fromReturnLive: Summary;
  /** The attempt that was served, split: its start → TCP connected (a dropped SYN shows here), and connected → B's first frame. */
  servedAttemptConnect: Summary;
  servedAttemptFirstFrame: Summary;
  /**
   * This network namespace's TcpExt ListenOverflows / ListenDrops during the storm (/proc/net/netstat):
   * connections the kernel dropped because a listener's accept queue was full (the client's SYN is
   * retransmitted after 1 s, then 3 s, …). Machine-wide, but nothing else here accepts so fast.
   */
  listenOverflows: number | null;
  listenDrops: number | null;
  /** The stop → the last client served (s). */
  lastServedS: number | null;
  /** Clients served / (last served − first reconnect attempt). */
  resumesPerS: number | null;
  attempts: number;
  sheds: number;
  failures: number;
  failReasons: Record<string, number>;
  retryAfter: Record<string, number>;
  /** The `retry:` (ms) the clients waited before their first reconnect (the stream's last one). */
  retryUsed: { count: number; min: number; mean: number; max: number };
  jobs: {
    sent: number;
    accepted: number;
    errors: number;
    errorSamples: Record<string, number>;
    succeededReceived: number;
    lost: number;
    lostSample: number[];
    duplicates: number;
    outOfOrder: number;
    jobEvents: number;
    drainMs: number;
  };
  notifierB: {
    sseConnections: number | null;
    shedTotal: number | null;
    streamErrorsTotal: number | null;
    resumeCount: number | null;
    resumeP99S: number | null;
    /** B's event-loop delay since it started (prom-client's monitorEventLoopDelay: p99 and max, s): how long a new stream's first frame may wait behind other work. */
    eventLoopLagP99S: number | null;
    eventLoopLagMaxS: number | null;
    rssMB: number;
  };
  /** % of one core per process from the stop until every client was served (or the bound). */
  cpu: Record<string, number>;
  targets: Array<{ what: string; target: string; value: string; met: boolean }>;
  samples: string[];
  wallS: number;
}

// ---------------------------------------------------------------------------------------------
// A load process over IPC

/** One of this scenario's load processes. */
class LoadProc extends BaseLoadProc<StormCommand, StormReply> {
  constructor(index: number, env: Record<string, string>) {
    super(new URL("./stormLoad.ts", import.meta.url), index, env, { name: "storm load process", advanced: true });
  }
}

// ---------------------------------------------------------------------------------------------
// The submitter: open loop, job i at t0 + i/rate, for active client i mod A

class Submitter {
  sent = 0;
  answered = 0;
  readonly accepted: number[] = [];
  errors = 0;
  readonly errorSamples: Record<string, number> = {};
  #agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  #api: URL;
  #tokens: string[];
  #globals: number[];
  #rate: number;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(apiUrl: string, active: Array<{ g: number; token: string }>, rate: number) {
    this.#api = new URL(apiUrl);
    this.#tokens = active.map((a) => a.token);
    this.#globals = active.map((a) => a.g);
    this.#rate = rate;
  }

  start(): void {
    const interval = 1000 / this.#rate;
    const t0 = performance.now();
    let next = 0;
    const pump = () => {
      if (this.#stopped) return;
      const now = performance.now();
      while (t0 + next * interval <= now) this.#send(next++);
      this.#timer = setTimeout(pump, Math.max(1, Math.min(5, t0 + next * interval - now)));
    };
    pump();
  }

  #send(i: number): void {
    const k = i % this.#tokens.length;
    const body = `{"type":"echo","payload":{"g":${this.#globals[k]},"i":${i}}}`;
    const countError = (what: string) => {
      this.errors++;
      this.errorSamples[what] = (this.errorSamples[what] ?? 0) + 1;
    };
    postJob(
      { agent: this.#agent, api: this.#api, token: this.#tokens[k]!, body },
      (status, onBody) => {
        if (status === 202) this.accepted.push(i);
        else countError(`HTTP ${status}`);
        onBody(() => this.answered++);
      },
      (err) => {
        this.answered++;
        countError(err.message);
      },
    );
    this.sent++;
  }

  /** Stops sending; resolves once every request was answered (bounded). */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    const deadline = Date.now() + timeoutMs;
    while (this.answered < this.sent && Date.now() < deadline) await sleep(20);
  }

  close(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#agent.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Figures

function summarize(values: number[]): Summary {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return { count: 0, p50: NaN, p99: NaN, max: NaN };
  const q = (p: number) => v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))]!;
  return { count: v.length, p50: Math.round(q(0.5)), p99: Math.round(q(0.99)), max: Math.round(v[v.length - 1]!) };
}

/** TcpExt ListenOverflows and ListenDrops so far (this network namespace), or nulls. */
function listenCounters(): { overflows: number | null; drops: number | null } {
  try {
    const lines = readFileSync("/proc/net/netstat", "utf8")
      .split("\n")
      .filter((l) => l.startsWith("TcpExt:"));
    const keys = lines[0]!.trim().split(/\s+/);
    const values = lines[1]!.trim().split(/\s+/).map(Number);
    const get = (k: string) => {
      const i = keys.indexOf(k);
      return i > 0 && Number.isFinite(values[i]) ? values[i]! : null;
    };
    return { overflows: get("ListenOverflows"), drops: get("ListenDrops") };
  } catch {
    return { overflows: null, drops: null };
  }
}

const fmtMs = (n: number) => (Number.isFinite(n) ? `${Math.round(n).toLocaleString("en-US")} ms` : "–");

// ---------------------------------------------------------------------------------------------

/**
 * The notifiers of 6 and 7 send heartbeats at the default interval (15 s), not the bench's 2 s
 * (which scenario 4 uses to check them quickly): at 19,000 streams a 2 s interval is 9,500 socket
 * writes a second on each notifier and as many reads in the load processes, a cost no deployment
 * pays and that would be measured as the storm's.
 */
const STORM_NOTIFIER_ENV = { SSE_HEARTBEAT_MS: "15000" };

export async function stormBench(o: StormOptions): Promise<StormResult> {
  const wall0 = performance.now();
  const now = () => performance.timeOrigin + performance.now();
  const scenario = o.kind === "kill" ? 6 : 7;
  const prefix = `storm${scenario}-${randomBytes(3).toString("hex")}-`;
  const log = (s: string) => o.log(`  scenario ${scenario}: ${s}`);
  const addresses = Array.from({ length: 19 }, (_, i) => `127.0.0.${i + 2}`);
  const procs: LoadProc[] = [];
  const untrack: Array<() => void> = [];
  let submitter: Submitter | null = null;
  let a: StormNotifier | null = null;
  let b: StormNotifier | null = null;
  let aStopping: Promise<void> | null = null;
  try {
    const started = await Promise.allSettled([
      // The drain window (a duration, as libs/config reads it).
      o.startNotifier({
        ...STORM_NOTIFIER_ENV,
        ...(o.kind === "term" ? { SSE_DRAIN_WINDOW: `${o.drainWindowMs}ms` } : {}),
      }),
      o.startNotifier(STORM_NOTIFIER_ENV),
    ]);
    if (started[0].status === "fulfilled") a = started[0].value;
    if (started[1].status === "fulfilled") b = started[1].value;
    for (const x of started) if (x.status === "rejected") throw x.reason;
    if (!a || !b) throw new Error("a notifier did not start");
    for (let p = 0; p < o.loadProcesses; p++) {
      const lp = new LoadProc(p, {
        BENCH_LOCAL_ADDRESSES: addresses.filter((_, i) => i % o.loadProcesses === p).join(","),
        TOKEN_SECRET: o.tokenSecret,
      });
      procs.push(lp);
      untrack.push(track({ name: `stormLoad ${lp.child.pid}`, stop: () => lp.stop() }));
    }
    await Promise.all(procs.map((p) => p.next("ready", 60_000)));
    // Client g lives in load process g mod P; the first `active` clients get jobs.
    await Promise.all(
      procs.map((lp, p) => {
        const globals: number[] = [];
        for (let g = p; g < o.clients; g += o.loadProcesses) globals.push(g);
        return lp.ask(
          { type: "prepare", prefix, globals, active: globals.filter((g) => g < o.active), defaultRetryMs: o.retryMs },
          "prepared",
          300_000,
        );
      }),
    );
    const activeClients = await Promise.all(
      Array.from({ length: Math.min(o.active, o.clients) }, async (_, g) => ({
        g,
        token: await o.mint(`${prefix}${g}`),
      })),
    );

    // Every client holds an id, as clients that have ever had an event do: one job first, and its
    // queued event's id is where each client's first stream starts (Last-Event-ID). So every
    // return is a resume, which costs a read of RESULTS; a client with no id would cost none.
    const first = await fetch(`${o.apiUrl}/v1/jobs`, {
      method: "POST",
      headers: { authorization: `Bearer ${activeClients[0]!.token}`, "content-type": "application/json" },
      body: JSON.stringify({ type: "echo", payload: { first: true } }),
    });
    const since = first.status === 202 ? String(((await first.json()) as { eventId: number }).eventId) : undefined;
    const t0 = performance.now();
    const opened = await Promise.all(
      procs.map((lp) =>
        lp.ask({ type: "open", url: a!.url, inflight: 128, ...(since ? { since } : {}) }, "opened", 300_000),
      ),
    );
    const ok = opened.reduce((s, r) => s + r.ok, 0);
    const openFailed = opened.reduce((s, r) => s + r.failed, 0);
    const openReasons: Record<string, number> = {};
    for (const r of opened) for (const [k, v] of Object.entries(r.reasons)) openReasons[k] = (openReasons[k] ?? 0) + v;
    log(
      `${ok}/${o.clients} streams open on notifier A in ${((performance.now() - t0) / 1000).toFixed(1)} s${openFailed ? ` (${openFailed} failed: ${JSON.stringify(openReasons)})` : ""}`,
    );
    if (ok === 0) throw new Error(`no stream opened on notifier A: ${JSON.stringify(openReasons)}`);

    submitter = new Submitter(o.apiUrl, activeClients, o.rate);
    submitter.start();
    log(
      `${activeClients.length} active clients, ${o.rate} jobs/s; ${o.kind === "kill" ? "SIGKILL" : "SIGTERM"} to notifier A in ${o.leadS} s`,
    );
    await sleep(o.leadS * 1000);

    const deadline = now() + o.boundS * 1000;
    await Promise.all(procs.map((lp) => lp.ask({ type: "arm", url: b!.url, deadline }, "armed")));
    const meterPids: Record<string, number> = { ...o.pids, "notifier B": b.pid };
    for (const [p, lp] of procs.entries()) meterPids[`load${p}`] = lp.child.pid!;
    const meter = new CpuMeter(meterPids);
    const listen0 = listenCounters();
    const tStop = now();
    if (o.kind === "kill") {
      process.kill(a.pid, "SIGKILL");
      const dead = a;
      aStopping = dead.stop(); // reaps it (already dead)
    } else {
      aStopping = a.stop(); // SIGTERM; resolves when it exited
    }

    // Until every client is back on B (or the bound).
    let stats: StormStats[] = [];
    let lastLog = 0;
    for (;;) {
      await sleep(250);
      stats = (await Promise.all(procs.map((lp) => lp.ask({ type: "stats" }, "stats")))).map((r) => r.stats);
      const served = stats.reduce((s, x) => s + x.served, 0);
      const gaveUp = stats.reduce((s, x) => s + x.gaveUp, 0);
      const t = (now() - tStop) / 1000;
      if (t - lastLog >= 5) {
        lastLog = t;
        log(
          `${t.toFixed(0)} s after the stop: ${stats.reduce((s, x) => s + x.ended, 0)} streams ended, ${served} served again, ` +
            `${stats.reduce((s, x) => s + x.sheds, 0)} 503s, ${stats.reduce((s, x) => s + x.failures, 0)} failures`,
        );
      }
      if (served + gaveUp >= ok) break;
      if (now() > deadline + 3_000) break;
    }
    const cpu = meter.read();
    const listen1 = listenCounters();
    const backS = (now() - tStop) / 1000;
    log(
      `${stats.reduce((s, x) => s + x.served, 0)} clients served again ${backS.toFixed(1)} s after the stop; jobs go on for ${o.afterS} s`,
    );
    await sleep(o.afterS * 1000);
    await submitter.stop();
    const accepted = submitter.accepted.length;
    const drain0 = performance.now();
    while (performance.now() - drain0 < o.drainMs) {
      const st = (await Promise.all(procs.map((lp) => lp.ask({ type: "stats" }, "stats")))).map((r) => r.stats);
      if (st.reduce((s, x) => s + x.succeeded, 0) >= accepted) break;
      await sleep(100);
    }
    const drainMs = Math.round(performance.now() - drain0);
    await aStopping;
    aStopping = null;

    // Figures
    const results: StormResults[] = (await Promise.all(procs.map((lp) => lp.ask({ type: "results" }, "results")))).map(
      (r) => r.results,
    );
    const fromStop: number[] = [];
    const fromReturn: number[] = [];
    const fromReturnResumed: number[] = [];
    const fromReturnLive: number[] = [];
    const connectMs: number[] = [];
    const firstFrameMs: number[] = [];
    const fromEnd: number[] = [];
    const ends: number[] = [];
    let firstAttempt = Infinity;
    let lastServed = -Infinity;
    for (const r of results) {
      for (let k = 0; k < r.servedAt.length; k++) {
        const e = r.endedAt[k]!;
        const f = r.firstAttemptAt[k]!;
        const s = r.servedAt[k]!;
        if (Number.isFinite(e)) ends.push(e - tStop);
        if (Number.isFinite(f)) firstAttempt = Math.min(firstAttempt, f);
        if (!Number.isFinite(s)) continue;
        lastServed = Math.max(lastServed, s);
        connectMs.push(r.connectMs[k]!);
        firstFrameMs.push(r.firstFrameMs[k]!);
        fromStop.push(s - tStop);
        if (Number.isFinite(f)) {
          fromReturn.push(s - f);
          (r.resumed[k] ? fromReturnResumed : fromReturnLive).push(s - f);
        }
        if (Number.isFinite(e)) fromEnd.push(s - e);
      }
    }
    const received = new Set<number>();
    for (const r of results) for (const i of r.succeeded) received.add(i);
    const lostList = submitter.accepted.filter((i) => !received.has(i)).sort((x, y) => x - y);
    const sum = (f: (r: StormResults) => number) => results.reduce((s, r) => s + f(r), 0);
    const merge = (f: (r: StormResults) => Record<string, number>) => {
      const out: Record<string, number> = {};
      for (const r of results) for (const [k, v] of Object.entries(f(r))) out[k] = (out[k] ?? 0) + v;
      return out;
    };
    const endSorted = ends.sort((x, y) => x - y);

    let metricsText = "";
    try {
      metricsText = await (await fetch(`${b.url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    } catch (err) {
      log(`could not read notifier B's /metrics: ${String(err)}`);
    }
    const resume = histogramQuantile(metricsText, "herald_sse_resume_seconds", 0.99);

    const served = fromStop.length;
    const r: StormResult = {
      kind: o.kind,
      clients: o.clients,
      active: activeClients.length,
      rate: o.rate,
      loadProcesses: o.loadProcesses,
      retryMs: o.retryMs,
      drainWindowMs: o.kind === "term" ? o.drainWindowMs : null,
      boundS: o.boundS,
      opened: ok,
      openFailed,
      openReasons,
      ended: ends.length,
      endSpreadMs: {
        first: endSorted.length ? Math.round(endSorted[0]!) : NaN,
        p50: endSorted.length ? Math.round(endSorted[Math.floor((endSorted.length - 1) / 2)]!) : NaN,
        last: endSorted.length ? Math.round(endSorted[endSorted.length - 1]!) : NaN,
      },
      neverEnded: Math.max(0, ok - ends.length),
      served,
      neverServed: Math.max(0, ok - served),
      droppedEarly: sum((x) => x.droppedEarly),
      reDrops: sum((x) => x.reDrops),
      fromStop: summarize(fromStop),
      fromReturn: summarize(fromReturn),
      fromEnd: summarize(fromEnd),
      fromReturnResumed: summarize(fromReturnResumed),
      fromReturnLive: summarize(fromReturnLive),
      servedAttemptConnect: summarize(connectMs),
      servedAttemptFirstFrame: summarize(firstFrameMs),
      listenOverflows:
        listen0.overflows !== null && listen1.overflows !== null ? listen1.overflows - listen0.overflows : null,
      listenDrops: listen0.drops !== null && listen1.drops !== null ? listen1.drops - listen0.drops : null,
      lastServedS: served ? round((lastServed - tStop) / 1000, 2) : null,
      resumesPerS:
        served && Number.isFinite(firstAttempt) && lastServed > firstAttempt
          ? Math.round(served / ((lastServed - firstAttempt) / 1000))
          : null,
      attempts: sum((x) => x.attempts),
      sheds: sum((x) => x.sheds),
      failures: sum((x) => x.failures),
      failReasons: merge((x) => x.failReasons),
      retryAfter: merge((x) => x.retryAfter),
      retryUsed: (() => {
        const count = sum((x) => x.retryUsed.count);
        return {
          count,
          min: count ? Math.min(...results.map((x) => x.retryUsed.min)) : NaN,
          mean: count ? Math.round(sum((x) => x.retryUsed.sum) / count) : NaN,
          max: count ? Math.max(...results.map((x) => x.retryUsed.max)) : NaN,
        };
      })(),
      jobs: {
        sent: submitter.sent,
        accepted,
        errors: submitter.errors,
        errorSamples: submitter.errorSamples,
        succeededReceived: received.size,
        lost: lostList.length,
        lostSample: lostList.slice(0, 20),
        duplicates: sum((x) => x.duplicates),
        outOfOrder: sum((x) => x.outOfOrder),
        jobEvents: sum((x) => x.jobEvents),
        drainMs,
      },
      notifierB: {
        sseConnections: metricSum(metricsText, "herald_sse_connections"),
        shedTotal: metricSum(metricsText, "herald_sse_shed_total"),
        streamErrorsTotal: metricSum(metricsText, "herald_sse_stream_errors_total"),
        resumeCount: resume.count,
        resumeP99S: resume.quantile !== null ? round(resume.quantile, 3) : null,
        eventLoopLagP99S: metricSum(metricsText, "herald_nodejs_eventloop_lag_p99_seconds"),
        eventLoopLagMaxS: metricSum(metricsText, "herald_nodejs_eventloop_lag_max_seconds"),
        rssMB: round(memory(b.pid).rss / 1024 / 1024, 1),
      },
      cpu,
      targets: [],
      samples: results.flatMap((x) => x.samples).slice(0, 10),
      wallS: round((performance.now() - wall0) / 1000, 1),
    };
    const noLoss = r.jobs.lost === 0 && r.neverServed === 0;
    if (o.kind === "kill") {
      r.targets.push({
        what: "p99 from the client's return to served",
        target: "≤ 3,000 ms",
        value: fmtMs(r.fromReturn.p99),
        met: r.fromReturn.p99 <= 3000 && noLoss,
      });
    } else {
      const max = Math.max(...fromStop);
      r.targets.push({
        what: "longest wait (SIGTERM → served on B)",
        target: `≤ ${(o.drainWindowMs + 1000).toLocaleString("en-US")} ms (window + 1 s)`,
        value: fmtMs(max),
        met: Number.isFinite(max) && max <= o.drainWindowMs + 1000 && r.neverServed === 0,
      });
    }
    r.targets.push({ what: "jobs lost", target: "0", value: String(r.jobs.lost), met: r.jobs.lost === 0 });
    if (o.kind === "kill") {
      r.targets.push({
        what: "events duplicated",
        target: "0",
        value: String(r.jobs.duplicates),
        met: r.jobs.duplicates === 0,
      });
      r.targets.push({
        what: "events out of order",
        target: "0",
        value: String(r.jobs.outOfOrder),
        met: r.jobs.outOfOrder === 0,
      });
    }
    log(describeStorm(r));
    return r;
  } finally {
    submitter?.close();
    await Promise.all(procs.map((p) => p.stop()));
    for (const u of untrack) u();
    await aStopping?.catch(() => undefined);
    await b?.stop().catch(() => undefined);
    await a?.stop().catch(() => undefined);
  }
}

export function describeStorm(r: StormResult): string {
  const s = (x: Summary) => `p50 ${fmtMs(x.p50)}, p99 ${fmtMs(x.p99)}, max ${fmtMs(x.max)}`;
  return (
    `${r.served}/${r.opened} served again (${r.neverServed} never); from the stop: ${s(r.fromStop)}; from their return: ${s(r.fromReturn)}; ` +
    `(resumed ${s(r.fromReturnResumed)}; live ${s(r.fromReturnLive)}; served attempt: TCP connect ${s(r.servedAttemptConnect)}, then first frame ${s(r.servedAttemptFirstFrame)}); from their stream's end: ${s(r.fromEnd)}; streams ended ${r.endSpreadMs.first}…${r.endSpreadMs.last} ms after the stop; ` +
    `${r.resumesPerS ?? "–"} resumes/s; ${r.sheds} 503s; listen queue overflows ${r.listenOverflows ?? "n/a"}, ${r.failures} other failures${r.failures ? ` ${JSON.stringify(r.failReasons)}` : ""}; ` +
    `jobs: ${r.jobs.accepted}/${r.jobs.sent} accepted, ${r.jobs.lost} lost, ${r.jobs.duplicates} duplicated, ${r.jobs.outOfOrder} out of order; ` +
    `B: shed ${r.notifierB.shedTotal ?? "n/a"}, stream errors ${r.notifierB.streamErrorsTotal ?? "n/a"}, resume p99 ${r.notifierB.resumeP99S ?? "n/a"} s; cpu ${JSON.stringify(r.cpu)}`
  );
}
