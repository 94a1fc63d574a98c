/**
 * The processes a bench run starts, and how to stop every one of them (also on Ctrl-C).
 *
 * They are launched with scripts/launcher (AppProcess, startNatsServer). Each app gets a port
 * chosen beforehand (freePort): with LOG_LEVEL=warn the apps do not log "Server listening at",
 * so AppProcess learns where they listen from PORT, and waits for their `/readyz`.
 */
import { rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { AppProcess, freePort, startNatsServer, type AppKind } from "../scripts/launcher/mod.ts";
import { natsServerFromEnv, type EmbeddedServer } from "../libs/nats/mod.ts";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));

// ---------------------------------------------------------------------------------------------
// Registry of everything started: stopped in reverse order of starting (load generators first,
// then apps, then nats-servers), whatever happens.

interface Tracked {
  name: string;
  stop(): Promise<unknown>;
}
const tracked: Tracked[] = [];
let interrupted = false;

/** Once interrupted (Ctrl-C), nothing new starts: a process started meanwhile is stopped at once. */
export function interrupt(): void {
  interrupted = true;
}

/**
 * For a bench of one feature: on Ctrl-C, start nothing more, stop every process it started, remove
 * the run's directory (`runDir()`, its nats-server store) if it has one, and exit 130.
 */
export function stopAllOnInterrupt(runDir: () => string | null = () => null): void {
  process.once("SIGINT", () => {
    interrupt();
    void stopAll().then(() => {
      const dir = runDir();
      if (dir) rmSync(dir, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

export function checkInterrupted(): void {
  if (interrupted) throw new Error("interrupted");
}

export function track(t: Tracked): () => void {
  if (interrupted) {
    void t.stop().catch(() => undefined);
    throw new Error("interrupted");
  }
  tracked.push(t);
  return () => {
    const i = tracked.indexOf(t);
    if (i >= 0) tracked.splice(i, 1);
  };
}

/** Stops everything still tracked, newest first. */
export async function stopAll(): Promise<void> {
  while (tracked.length) {
    const t = tracked.pop()!;
    try {
      await t.stop();
    } catch (err) {
      process.stderr.write(`bench: stopping ${t.name} failed: ${String(err)}\n`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// /proc readings

const CLK_TCK = (() => {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** CPU seconds (user + system) a process has used so far; NaN if it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** VmRSS and VmHWM (peak RSS) of a process, in bytes. */
export function memory(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
  } catch {
    return { rss: NaN, hwm: NaN };
  }
}

/** The whole machine's CPU seconds so far (/proc/stat): busy (user, nice, system, irq, softirq) and steal. */
export function machineCpuSeconds(): { busy: number; steal: number } {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
    return { busy: (user + nice + system + irq + softirq) / CLK_TCK, steal: steal / CLK_TCK };
  } catch {
    return { busy: NaN, steal: NaN };
  }
}

/**
 * CPU use of named processes (and this one) between construction and read(), as % of one core;
 * also the whole machine's, so that load from processes outside the bench shows (`others`).
 */
export class CpuMeter {
  #pids: Record<string, number>;
  #start = new Map<string, number>();
  #self = process.cpuUsage();
  #machine = machineCpuSeconds();
  #t0 = performance.now();

  constructor(pids: Record<string, number>) {
    this.#pids = pids;
    for (const [name, pid] of Object.entries(pids)) this.#start.set(name, cpuSeconds(pid));
  }

  /** % of one core per process, plus `generator` (this process), `total` (of those), `others` (the rest of the machine) and `steal`. */
  read(): Record<string, number> {
    const wall = (performance.now() - this.#t0) / 1000;
    const out: Record<string, number> = {};
    let total = 0;
    for (const [name, pid] of Object.entries(this.#pids)) {
      const pct = ((cpuSeconds(pid) - this.#start.get(name)!) / wall) * 100;
      out[name] = round(pct, 0);
      if (Number.isFinite(pct)) total += pct;
    }
    const self = process.cpuUsage(this.#self);
    const gen = ((self.user + self.system) / 1e6 / wall) * 100;
    out.generator = round(gen, 0);
    out.total = round(total + gen, 0);
    const m = machineCpuSeconds();
    out.others = round(Math.max(0, ((m.busy - this.#machine.busy) / wall) * 100 - (total + gen)), 0);
    out.steal = round(((m.steal - this.#machine.steal) / wall) * 100, 0);
    return out;
  }
}

export function round(n: number, digits = 1): number {
  if (!Number.isFinite(n)) return n;
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

// ---------------------------------------------------------------------------------------------
// nats-server, apps, the one-process mode

/** Warnings and errors a process logged: how many, and the first few. */
export class LogTally {
  count = 0;
  readonly samples: string[] = [];
  add(line: string): void {
    this.count++;
    if (this.samples.length < 10) this.samples.push(line.slice(0, 400));
  }
}

export async function startNats(storeDir: string, tally?: LogTally): Promise<EmbeddedServer> {
  checkInterrupted();
  const server = await startNatsServer({
    storeDir,
    readyTimeoutMs: 20_000,
    onLog: (line) => {
      if (/\[(WRN|ERR|FTL)\]/.test(line)) tally?.add(line);
    },
  });
  track({ name: `nats-server ${server.pid}`, stop: () => server.stop() });
  return server;
}

export interface RunningApp {
  kind: AppKind;
  pid: number;
  url: string;
  /** The app's log lines at warn level or above (LOG_LEVEL=warn: every line it logged). */
  warnings(): LogTally;
  stop(): Promise<void>;
}

function tallyLogs(text: string): LogTally {
  const t = new LogTally();
  for (const line of text.split("\n")) if (line.trim()) t.add(line);
  return t;
}

/**
 * Extra Node options for every herald process the bench starts (`--cpu-prof=DIR` sets
 * `--cpu-prof --cpu-prof-dir=DIR`: a .cpuprofile per process, written when it exits).
 */
let appNodeArgs: string[] = [];
export function setAppNodeArgs(args: string[]): void {
  appNodeArgs = args;
}

/** One herald app as its own process, on a port chosen here; resolves once /readyz says ready. */
export async function startHeraldApp(kind: AppKind, env: Record<string, string>): Promise<RunningApp> {
  const port = await freePort();
  checkInterrupted();
  const app = new AppProcess(kind, { ...env, PORT: String(port) }, { nodeArgs: appNodeArgs });
  // SIGKILL only after the app's own shutdown cut-off (a notifier given a drain window takes that
  // long to stop: it ends its streams over it).
  const stop = async () => {
    await app.stop();
  };
  const untrack = track({ name: `${kind} ${app.pid}`, stop });
  const url = app.url!;
  try {
    await app.ready();
  } catch (err) {
    await stop();
    untrack();
    throw err;
  }
  return {
    kind,
    pid: app.pid,
    url,
    warnings: () => tallyLogs(app.logs()),
    stop: async () => {
      await stop();
      untrack();
    },
  };
}

export interface Standalone {
  pid: number;
  natsPid: number;
  url: string;
  natsUrl: string;
  stop(): Promise<void>;
}

function isNatsServer(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("nats-server");
  } catch {
    return false;
  }
}

/** `node --import tsx apps/standalone/main.ts` (the one-process mode, with its own nats-server child). */
export async function startStandalone(dataDir: string, env: Record<string, string>): Promise<Standalone> {
  checkInterrupted();
  // NATS_URL empty (as unset): it starts its own nats-server. It prints where it serves whatever its log level.
  const app = new AppProcess(
    "standalone",
    { ...env, NATS_URL: "", PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir },
    { nodeArgs: appNodeArgs, keepLogChars: 20_000 },
  );
  const pidFile = path.join(dataDir, "nats", "nats-server.pid");
  const natsPidNow = (): number | null => {
    if (!existsSync(pidFile)) return null;
    const pid = Number(readFileSync(pidFile, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  };
  let natsPid: number | null = null;
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      natsPid ??= natsPidNow();
      if (app.running) await app.stop();
      // Its nats-server is a child in a process group of its own: if herald could not stop it
      // (killed), stop it here by its pid.
      if (natsPid && isNatsServer(natsPid)) {
        process.kill(natsPid, "SIGTERM");
        for (let i = 0; i < 100 && isNatsServer(natsPid); i++) await sleep(50);
        if (isNatsServer(natsPid)) process.kill(natsPid, "SIGKILL");
      }
    })());
  const untrack = track({ name: `standalone ${app.pid}`, stop });

  try {
    await app.ready();
    natsPid ??= natsPidNow();
    const natsUrl = readFileSync(path.join(dataDir, "nats-url"), "utf8").trim();
    if (!natsPid) throw new Error("standalone: no nats-server pid file");
    return {
      pid: app.pid,
      natsPid,
      url: app.url!,
      natsUrl,
      stop: async () => {
        await stop();
        untrack();
      },
    };
  } catch (err) {
    await stop();
    untrack();
    throw err;
  }
}

/** The version of the nats-server the bench starts (NATS_SERVER_BIN, else the one setup chose). */
export function benchNatsServerVersion(): string {
  return natsServerFromEnv().version;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
