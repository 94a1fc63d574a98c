/** The markdown report of a bench run (the JSON file holds the same and more). */
import type { StepResult } from "./e2e.ts";
import type { RawResult } from "./raw.ts";
import type { ReplayResult } from "./replay.ts";
import type { ConnectionsResult } from "./connections.ts";
import type { StormResult, Summary } from "./storm.ts";
import type { SoakResult } from "./soak.ts";

export type Mode = "separate" | "standalone";

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  natsServer: string;
  openFilesLimit: string;
  herald: string;
  date: string;
}

export interface ModeResult {
  mode: Mode;
  label: string;
  processes: Record<string, number>;
  e2e: StepResult[];
  throughput: {
    steps: StepResult[];
    best: number | null;
    bestFrom: string | null;
    p99LimitMs: number;
    durationS: number;
  } | null;
  raw: {
    results: RawResult[];
    bestMsgsPerS: number;
    eventBytes: number;
    heraldMsgsPerS: number | null;
    fraction: number | null;
  } | null;
  replay: ReplayResult[] | null;
  connections: ConnectionsResult | null;
  /** Scenario 6: notifier A SIGKILLed under load. */
  storm?: StormResult | null;
  /** Scenario 7: notifier A stopped with SIGTERM (rolling restart). */
  rolling?: StormResult | null;
  errors: string[];
  /** Warnings and errors the processes logged during scenarios 1-3 (separate layout). */
  logs: Record<string, { count: number; samples: string[] }>;
}

export interface BenchResult {
  quick: boolean;
  startedAt: string;
  wallS: number;
  machineBusyBeforePct: number;
  machine: Machine;
  settings: Record<string, unknown>;
  modes: ModeResult[];
  /** `--soak=<duration>`: the soak alone (then `modes` is empty). */
  soak?: SoakResult | null;
  /** Errors outside a mode (the soak's). */
  errors?: string[];
  notes: string[];
}

const fmt = (n: number | null | undefined, digits = 1): string => {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  return n >= 100 || Number.isInteger(n) ? Math.round(n).toLocaleString("en-US") : n.toFixed(digits);
};

function table(head: string[], rows: string[][]): string {
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  for (const r of rows) lines.push(`| ${r.join(" | ")} |`);
  return lines.join("\n");
}

function cpuCell(cpu: Record<string, number>): string {
  return Object.entries(cpu)
    .filter(([k]) => k !== "total")
    .map(([k, v]) => `${k} ${fmt(v)}`)
    .join(", ");
}

function stepRow(label: string, r: StepResult): string[] {
  const l = r.latency;
  return [
    label,
    fmt(r.rate),
    `${fmt(r.sentPerS)}${r.aborted ? " (aborted: overload)" : ""}`,
    fmt(r.completedPerS),
    fmt(l.p50, 2),
    fmt(l.p90, 2),
    fmt(l.p99, 2),
    fmt(l.p999, 2),
    fmt(l.max, 2),
    fmt(r.ack.p99, 2),
    String(r.errors),
    missingCell(r),
    fmt(r.sendLag.p99, 2),
    `${fmt(r.cpu.total)}%`,
    cpuCell(r.cpu),
  ];
}

function missingCell(r: StepResult): string {
  const extra: string[] = [];
  if (r.duplicates) extra.push(`${r.duplicates} duplicates`);
  if (r.late) extra.push(`${r.late} came late`);
  for (const [k, v] of Object.entries(r.otherEvents ?? {})) extra.push(`${v} ${k}`);
  if (r.sseDrops) extra.push(`${r.sseDrops} streams dropped`);
  return `${r.missing + r.duplicates}${extra.length ? ` (${extra.join(", ")})` : ""}`;
}

const STEP_HEAD = [
  "mode",
  "offered jobs/s",
  "sent/s",
  "completed/s",
  "p50 ms",
  "p90 ms",
  "p99 ms",
  "p99.9 ms",
  "max ms",
  "202 p99 ms",
  "errors",
  "missing",
  "gen. lag p99 ms",
  "CPU total (of 200%)",
  "CPU % of one core per process",
];

export function renderMarkdown(r: BenchResult): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`# herald benchmark${r.quick ? " (--quick)" : ""} — ${m.date}`);
  out.push("");
  out.push(
    table(
      ["machine", ""],
      [
        ["CPU", `${m.cpu} × ${m.cores} cores`],
        ["memory", `${m.memoryGiB} GiB`],
        ["OS", m.os],
        ["Node.js", m.node],
        ["nats-server", m.natsServer],
        ["open files", m.openFilesLimit],
        ["herald", m.herald],
        ["bench wall time", `${fmt(r.wallS)} s`],
      ],
    ),
  );
  out.push("");
  out.push(
    `Everything runs on this one machine: nats-server, herald and the load generator share its cores. ` +
      `“separate” = nats-server, api, worker, notifier as four processes; “one process” = \`apps/standalone\` (api + notifier + worker in one Node process, with its nats-server child). ` +
      `Settings: ${Object.entries(r.settings)
        .map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
        .join("; ")}.`,
  );

  if (r.modes.length === 0 && (r.soak !== undefined || r.errors?.length)) {
    renderSoak(out, r.soak ?? null);
    renderNotes(out, r);
    return out.join("\n");
  }

  out.push("");
  out.push("## 1. End-to-end latency (POST /v1/jobs → the client's SSE stream has `job.succeeded`)");
  out.push("");
  out.push(
    "Open loop: jobs are sent on a fixed schedule; latency counts from each job's *scheduled* send time. " +
      "“missing” = accepted jobs whose `job.succeeded` never arrived (+ duplicates). “gen. lag” = how late the generator sent compared with the schedule. " +
      "CPU is measured from /proc over the sending window; “generator” is the bench process itself (the POSTs and the 50 SSE readers).",
  );
  out.push("");
  const rows1: string[][] = [];
  for (const mr of r.modes) for (const s of mr.e2e) rows1.push(stepRow(mr.label, s));
  out.push(rows1.length ? table(STEP_HEAD, rows1) : "_not run_");

  out.push("");
  out.push("## 2. Throughput (highest rate with p99 < 100 ms, no error, nothing lost)");
  out.push("");
  const rows2: string[][] = [];
  for (const mr of r.modes) {
    const t = mr.throughput;
    if (!t) continue;
    const tried = [...mr.e2e.map((s) => ({ s, from: "1" })), ...t.steps.map((s) => ({ s, from: "2" }))]
      .sort((a, b) => a.s.rate - b.s.rate)
      .map(
        ({ s }) =>
          `${fmt(s.rate)}: ${(s.passed ?? (s.latency.p99 < t.p99LimitMs && !s.errors && !s.missing && !s.aborted)) ? "pass" : "fail"} (p99 ${fmt(s.latency.p99, 1)} ms${s.aborted ? ", aborted" : ""}${s.missing ? `, ${s.missing} missing` : ""}${s.errors ? `, ${s.errors} errors` : ""})`,
      )
      .join("; ");
    rows2.push([mr.label, t.best === null ? "none passed" : `**${fmt(t.best)} jobs/s**`, t.bestFrom ?? "–", tried]);
  }
  out.push(rows2.length ? table(["mode", "sustained", "from", "steps (jobs/s: result)"], rows2) : "_not run_");
  const s2rows: string[][] = [];
  for (const mr of r.modes) for (const s of mr.throughput?.steps ?? []) s2rows.push(stepRow(mr.label, s));
  if (s2rows.length) {
    out.push("");
    out.push("Scenario 2's own steps:");
    out.push("");
    out.push(table(STEP_HEAD, s2rows));
  }

  out.push("");
  out.push("## 3. The ceiling: raw JetStream publishes on the same nats-server");
  out.push("");
  out.push(
    "`js.publish` awaited, K in flight, one new subject per message (as RESULTS has), file storage, message size = the mean job event size seen in scenario 1. " +
      "A job stores 4 messages (queued in RESULTS, the job in JOBS, started, succeeded), so herald's ceiling would be about raw/4 jobs/s.",
  );
  out.push("");
  const rows3: string[][] = [];
  for (const mr of r.modes) {
    for (const x of mr.raw?.results ?? []) {
      rows3.push([
        mr.label,
        String(x.concurrency),
        String(x.processes),
        String(x.msgBytes),
        fmt(x.msgsPerS),
        fmt(x.latency.p50, 2),
        fmt(x.latency.p99, 2),
        cpuCell(x.cpu),
      ]);
    }
  }
  out.push(
    rows3.length
      ? table(
          ["mode", "in flight", "publishing processes", "bytes", "msgs/s", "p50 ms", "p99 ms", "CPU % of one core"],
          rows3,
        )
      : "_not run_",
  );
  const rows3b: string[][] = [];
  for (const mr of r.modes) {
    if (!mr.raw) continue;
    rows3b.push([
      mr.label,
      fmt(mr.raw.bestMsgsPerS),
      fmt(mr.raw.bestMsgsPerS / 4),
      mr.throughput?.best != null ? fmt(mr.throughput.best) : "–",
      mr.raw.heraldMsgsPerS != null ? fmt(mr.raw.heraldMsgsPerS) : "–",
      mr.raw.fraction != null ? `**${fmt(mr.raw.fraction * 100)}%**` : "–",
    ]);
  }
  if (rows3b.length) {
    out.push("");
    out.push(
      table(
        [
          "mode",
          "raw msgs/s (best)",
          "raw / 4 (jobs/s)",
          "herald jobs/s sustained",
          "herald msgs/s (×4)",
          "herald / raw",
        ],
        rows3b,
      ),
    );
  }

  out.push("");
  out.push("## 4. Connections: idle SSE clients on one notifier process");
  out.push("");
  const rows4: string[][] = [];
  let c4note = "";
  for (const mr of r.modes) {
    const c = mr.connections;
    if (!c) continue;
    c4note =
      `${c.loadProcesses} load processes, source addresses 127.0.0.2–127.0.0.${c.sourceAddresses + 1}, each connection its own client id (token); ` +
      `SSE_HEARTBEAT_MS=${c.heartbeatMs}; heartbeats checked on every open connection over ${c.steps[0]?.heartbeat.windowMs ?? "–"} ms. ` +
      `Per-connection figures are (value − the idle notifier's baseline) / open connections; “marginal” is the RSS added by this step / connections added.`;
    for (const s of c.steps) {
      rows4.push([
        mr.label,
        fmt(s.target),
        `${fmt(s.open)}${s.failed ? ` (${s.failed} failed)` : ""}`,
        fmt(s.connectsPerS),
        `${fmt(c.baseline.rssMB)} → ${fmt(s.rssMB)}`,
        fmt(s.rssPerConnKB),
        fmt(s.rssMarginalPerConnKB),
        `${fmt(c.baseline.heapUsedMB)} → ${fmt(s.heapUsedMB)}`,
        fmt(s.heapPerConnKB),
        `${fmt(s.heartbeat.withTwo)}/${fmt(s.heartbeat.checked)}`,
        `${fmt(s.heartbeat.meanGapMs)} / ${fmt(s.heartbeat.maxGapMs)}`,
        `notifier ${fmt(s.connectCpu.notifier)}%, load ${fmt(s.connectCpu.load)}%`,
        `${fmt(s.idleCpu)}%`,
        String(s.dropped),
      ]);
    }
  }
  if (c4note) out.push(c4note, "");
  out.push(
    rows4.length
      ? table(
          [
            "mode",
            "clients",
            "open",
            "connects/s",
            "RSS MB",
            "RSS KB/conn",
            "marginal KB/conn",
            "heap used MB",
            "heap KB/conn",
            "got 2 heartbeats",
            "heartbeat gap mean / max ms",
            "CPU while connecting",
            "notifier CPU idle",
            "dropped",
          ],
          rows4,
        )
      : "_not run_",
  );

  out.push("");
  out.push("## 5. Replay: a reconnecting client receives the events it missed");
  out.push("");
  out.push(
    "Events stored straight into RESULTS for one client, then `GET /v1/events` with `Last-Event-ID` = the sequence before them; time from the request to the last event, " +
      "the notifier's RSS polled every 20 ms (peak) and its VmHWM.",
  );
  out.push("");
  const rows5: string[][] = [];
  for (const mr of r.modes) {
    for (const x of mr.replay ?? []) {
      rows5.push([
        mr.label,
        fmt(x.events),
        x.ok ? "yes" : `**no** (${x.received} received${x.error ? `, ${x.error}` : ""})`,
        fmt(x.firstEventMs),
        fmt(x.totalMs),
        fmt(x.eventsPerS),
        fmt(x.mbPerS),
        `${fmt(x.rssBeforeMB)} → ${fmt(x.rssPeakMB)}`,
        fmt(x.hwmMB),
        cpuCell(x.cpu),
        fmt(x.publishPerS),
      ]);
    }
  }
  out.push(
    rows5.length
      ? table(
          [
            "mode",
            "events",
            "all, in order",
            "first event ms",
            "all events ms",
            "events/s",
            "MB/s",
            "notifier RSS MB (before → peak)",
            "VmHWM MB",
            "CPU % of one core",
            "stored at (events/s)",
          ],
          rows5,
        )
      : "_not run_",
  );

  renderStorm(out, r, "kill");
  renderStorm(out, r, "term");
  if (r.soak) renderSoak(out, r.soak);
  renderNotes(out, r);
  return out.join("\n");
}

function renderNotes(out: string[], r: BenchResult): void {
  const errs = [...r.modes.flatMap((mr) => mr.errors.map((e) => `${mr.label}: ${e}`)), ...(r.errors ?? [])];
  if (r.notes.length || errs.length) {
    out.push("");
    out.push("## Notes");
    out.push("");
    for (const n of r.notes) out.push(`- ${n}`);
    for (const e of errs) out.push(`- **error** ${e}`);
  }
  out.push("");
}

const sumCell = (x: Summary) => `${fmt(x.p50)} / ${fmt(x.p99)} / ${fmt(x.max)}`;
const counts = (o: Record<string, number>) =>
  Object.keys(o).length
    ? Object.entries(o)
        .map(([k, v]) => `${k}: ${fmt(v)}`)
        .join(", ")
    : "–";
const orNa = (n: number | null | undefined, digits = 1) => (n === null || n === undefined ? "n/a" : fmt(n, digits));

/** Scenario 6 (kill) or 7 (term): one row per figure, one column per mode that ran it. */
function renderStorm(out: string[], r: BenchResult, kind: "kill" | "term"): void {
  const runs = r.modes.flatMap((mr) => {
    const x = kind === "kill" ? mr.storm : mr.rolling;
    return x ? [{ label: mr.label, x }] : [];
  });
  out.push("");
  if (kind === "kill") {
    out.push("## 6. Storm: a notifier SIGKILLed under load, its clients resume on another");
    out.push("");
    out.push(
      "Two fresh notifiers A and B on the same nats-server, api and worker. Every client (its own client id) holds `GET /v1/events` on A, live; " +
        "the active ones get `echo` jobs at a fixed total rate (open loop, round-robin) from before the kill until a few seconds after everyone is back, then the events drain. " +
        "A is SIGKILLed; each client reconnects to B after the stream's `retry:`, with `Last-Event-ID` = its last id (none if it got none); " +
        "a 503 is retried after its `Retry-After` (1 s if none), any other failure after 1 s, until the bound. “Served” = B's first frame. " +
        "Times in ms: p50 / p99 / max. “From its return” starts at the client's own first reconnect attempt. " +
        "Lost = an accepted job whose `job.succeeded` never reached its client; duplicated = an event id a client got twice; out of order = a new id lower than one the client already had.",
    );
  } else {
    out.push("## 7. Rolling restart: a notifier stopped with SIGTERM, its clients resume on another");
    out.push("");
    out.push(
      "As scenario 6 (fresh notifiers A and B, new clients), but A is stopped with SIGTERM, with `SSE_DRAIN_WINDOW` in its environment: " +
        "a notifier that spreads its streams' ends over that window lets its clients come back in slices. " +
        "“Wait” = SIGTERM → served on B; the target is no wait longer than the window + 1 s, nothing lost.",
    );
  }
  out.push("");
  if (!runs.length) {
    out.push("_not run_");
    return;
  }
  const row = (name: string, f: (x: StormResult) => string): string[] => [name, ...runs.map(({ x }) => f(x))];
  const stop = kind === "kill" ? "kill" : "SIGTERM";
  const rows: string[][] = [
    row(
      "clients (on A) / active / jobs/s",
      (x) =>
        `${fmt(x.opened)}${x.openFailed ? ` (${fmt(x.openFailed)} failed to open)` : ""} / ${fmt(x.active)} / ${fmt(x.rate)}`,
    ),
    ...(kind === "term" ? [row("SSE_DRAIN_WINDOW (ms)", (x) => fmt(x.drainWindowMs))] : []),
    row(
      `streams ended (ms after the ${stop}: first / median / last)`,
      (x) => `${fmt(x.ended)} (${fmt(x.endSpreadMs.first)} / ${fmt(x.endSpreadMs.p50)} / ${fmt(x.endSpreadMs.last)})`,
    ),
    row(
      "`retry:` the clients waited (ms: least / mean / most)",
      (x) => `${fmt(x.retryUsed.min)} / ${fmt(x.retryUsed.mean)} / ${fmt(x.retryUsed.max)}`,
    ),
    row(
      "served again / never served",
      (x) =>
        `${fmt(x.served)} / ${x.neverServed ? `**${fmt(x.neverServed)}**` : "0"}${x.neverEnded ? ` (${fmt(x.neverEnded)} streams never ended)` : ""}`,
    ),
    row(`${stop} → served (ms)`, (x) => sumCell(x.fromStop)),
    row("its return → served (ms)", (x) => sumCell(x.fromReturn)),
    row(
      "… clients that resumed (with Last-Event-ID) / came back live",
      (x) =>
        `${fmt(x.fromReturnResumed.count)}: ${sumCell(x.fromReturnResumed)} / ${fmt(x.fromReturnLive.count)}: ${sumCell(x.fromReturnLive)}`,
    ),
    row(
      "… the attempt served: its start → TCP connected / connected → first frame (ms)",
      (x) => `${sumCell(x.servedAttemptConnect)} / ${sumCell(x.servedAttemptFirstFrame)}`,
    ),
    row("its stream's end → served (ms)", (x) => sumCell(x.fromEnd)),
    row(`${stop} → the last client served`, (x) => (x.lastServedS === null ? "–" : `${fmt(x.lastServedS, 2)} s`)),
    row("resumes per second", (x) => fmt(x.resumesPerS)),
    row(
      "reconnect attempts / 503s (shed) / other failures",
      (x) =>
        `${fmt(x.attempts)} / ${fmt(x.sheds)} / ${fmt(x.failures)}${x.failures ? ` (${counts(x.failReasons)})` : ""}`,
    ),
    row("Retry-After on the 503s (s: count)", (x) => counts(x.retryAfter)),
    row(
      "kernel: listen queue overflows / drops (SYNs dropped: retried after 1 s, 3 s, …)",
      (x) => `${orNa(x.listenOverflows)} / ${orNa(x.listenDrops)}`,
    ),
    row(
      "jobs sent / accepted (202) / errors",
      (x) =>
        `${fmt(x.jobs.sent)} / ${fmt(x.jobs.accepted)} / ${fmt(x.jobs.errors)}${x.jobs.errors ? ` (${counts(x.jobs.errorSamples)})` : ""}`,
    ),
    row(
      "lost / duplicated / out of order",
      (x) =>
        `${fmt(x.jobs.lost)} / ${fmt(x.jobs.duplicates)} / ${fmt(x.jobs.outOfOrder)} (of ${fmt(x.jobs.jobEvents)} job events)`,
    ),
    row("streams dropped before the stop / again on B", (x) => `${fmt(x.droppedEarly)} / ${fmt(x.reDrops)}`),
    row(
      "B: herald_sse_shed_total / herald_sse_stream_errors_total",
      (x) => `${orNa(x.notifierB.shedTotal)} / ${orNa(x.notifierB.streamErrorsTotal)}`,
    ),
    row(
      "B: herald_sse_resume_seconds count / p99 (from buckets)",
      (x) =>
        `${orNa(x.notifierB.resumeCount)} / ${x.notifierB.resumeP99S === null ? "n/a" : `${fmt(x.notifierB.resumeP99S, 3)} s`}`,
    ),
    row(
      "B: event-loop delay p99 / max since it started (s)",
      (x) => `${orNa(x.notifierB.eventLoopLagP99S, 3)} / ${orNa(x.notifierB.eventLoopLagMaxS, 3)}`,
    ),
    row(
      "B: open streams at the end / RSS",
      (x) => `${orNa(x.notifierB.sseConnections)} / ${fmt(x.notifierB.rssMB)} MB`,
    ),
    row(`CPU % of one core (${stop} → all served)`, (x) => cpuCell(x.cpu)),
  ];
  out.push(table(["", ...runs.map((x) => x.label)], rows));
  out.push("");
  out.push("Targets (stated, not enforced):");
  out.push("");
  const trows: string[][] = [];
  for (const { label, x } of runs)
    for (const t of x.targets) trows.push([label, t.what, t.target, t.value, t.met ? "met" : "**missed**"]);
  out.push(table(["mode", "figure", "target", "measured", ""], trows));
  const samples = runs.flatMap(({ label, x }) => x.samples.map((s) => `${label}: ${s}`));
  if (samples.length) {
    out.push("");
    out.push(
      `Samples: ${samples
        .slice(0, 5)
        .map((s) => `\`${s}\``)
        .join("; ")}.`,
    );
  }
}

function renderSoak(out: string[], s: SoakResult | null): void {
  out.push("");
  out.push("## Soak: memory over time under a steady load");
  out.push("");
  if (!s) {
    out.push("_not run (see the errors)_");
    return;
  }
  out.push(
    `Separate layout, ${fmt(s.clients)} SSE clients, \`echo\` jobs at ${fmt(s.rate)} jobs/s for ${fmt(s.durationS)} s (open-loop steps of ${s.stepS} s, back to back). ` +
      `Every ${s.sampleEveryS} s: each process's RSS (/proc) and each app's V8 heap used (\`herald_nodejs_heap_size_used_bytes\`). ` +
      "The slope is a least-squares fit over the second half of the samples (the warm-up does not count), in MB per hour." +
      (s.durationS < 600
        ? ` **A ${fmt(s.durationS)} s soak is too short for the slope to mean much** (a few samples of a process still warming up, extrapolated to an hour): use 30 minutes or more.`
        : ""),
  );
  out.push("");
  const j = s.jobs;
  out.push(
    `Jobs: ${fmt(j.sent)} sent of ${fmt(j.scheduled)} scheduled, ${fmt(j.accepted)} accepted, **${fmt(j.done)} done**, **${fmt(j.lost)} lost**` +
      `${j.late ? ` (${fmt(j.late)} came late)` : ""}, ${fmt(j.errors)} errors, ${fmt(j.duplicates)} duplicates, ${fmt(j.sseDrops)} streams dropped` +
      `${j.abortedSteps ? `, ${j.abortedSteps} step(s) aborted (overload)` : ""}.`,
  );
  out.push("");
  const ser = (x: { start: number; end: number; max: number }) => `${fmt(x.start)} → ${fmt(x.end)} (max ${fmt(x.max)})`;
  const slope = (n: number | null) => (n === null ? "–" : `${n > 0 ? "+" : n < 0 ? "−" : ""}${fmt(Math.abs(n))}`);
  out.push(
    table(
      ["process", "RSS MB start → end (max)", "RSS slope MB/h", "heap used MB start → end (max)", "heap slope MB/h"],
      s.processes.map((p) => [
        p.name,
        ser(p.rssMB),
        slope(p.rssMB.slopeMBPerH),
        p.heapMB ? ser(p.heapMB) : "–",
        p.heapMB ? slope(p.heapMB.slopeMBPerH) : "–",
      ]),
    ),
  );
  out.push("");
  out.push(
    table(
      ["at s", "s", "sent", "done", "missing", "errors", "p50 ms", "p99 ms", "max ms", "CPU % of one core"],
      s.steps.map((x) => [
        fmt(x.at),
        fmt(x.durationS),
        fmt(x.sent),
        fmt(x.done),
        String(x.missing),
        String(x.errors),
        fmt(x.p50, 2),
        fmt(x.p99, 2),
        fmt(x.max, 2),
        cpuCell(x.cpu),
      ]),
    ),
  );
  if (s.heapSnapshots) {
    out.push("");
    out.push(
      `Heap snapshots (before the load, at the end; the first one's memory stays in every RSS sample) in \`${s.heapSnapshots.dir}\`: ${
        Object.entries(s.heapSnapshots.files)
          .map(([k, v]) => `${k}: ${v.join(", ")}`)
          .join("; ") || "none written"
      }.`,
    );
  }
  for (const [proc, l] of Object.entries(s.logs)) {
    out.push("");
    out.push(`${proc} logged ${l.count} warning/error line(s), e.g. \`${l.samples[0]}\`.`);
  }
  out.push("");
  out.push(`The samples (t s, RSS and heap MB per process) are in the JSON file (\`soak.samples\`).`);
}
