import { availableParallelism } from "node:os";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, existsSync, rmSync } from "node:fs";
import path from "node:path";
import { definitionPath } from "./paths.ts";
import { findNatsServer, natsServerFromEnv } from "./serverBinary.ts";

export interface EmbeddedServerOptions {
  /** JetStream store directory (created if missing). */
  storeDir: string;
  /**
   * The binary; default: NATS_SERVER_BIN from the environment, else the one `findNatsServer` picks.
   * (Tests, the bench and `npm run stack` start servers of their own: CI runs them all on the floor
   * release by setting NATS_SERVER_BIN once.)
   */
  bin?: string;
  /** Client port; 0 (default) lets nats-server choose a free one, race-free. */
  port?: number;
  /** Also start the HTTP monitoring endpoint (connz, subsz, jsz) on a free port. */
  monitor?: boolean;
  /** How long to wait for "Server is ready". */
  readyTimeoutMs?: number;
  /** Lines of the server's own log, for debugging. */
  onLog?: (line: string) => void;
  /** Config file (default nats/nats-server.conf), e.g. a node of nats/cluster/. */
  configFile?: string;
  /** More command-line flags, e.g. `--cluster` and `--routes` for a cluster node. */
  extraArgs?: string[];
}

export interface EmbeddedServer {
  url: string;
  port: number;
  /** http://127.0.0.1:<port> when `monitor` was asked for. */
  monitorUrl: string | null;
  pid: number;
  /** `nats-server --version`, e.g. "2.15.1". */
  version: string;
  process: ChildProcess;
  /** SIGTERM (lame-duck free, fast) then SIGKILL after a grace period; resolves when it has exited. */
  stop(): Promise<void>;
}

/**
 * The embedded server shares its machine with herald's own Node processes, so it gets half of the
 * cores for running Go code (GOMAXPROCS; at least one) unless GOMAXPROCS is set already. With all
 * of them, Go's scheduler keeps idle threads spinning in search of work, taking CPU from the Node
 * processes it serves: on a 2-core machine at 1,500 jobs/s the server used 57% of a core with 2 and
 * 46% with 1, and herald completed 10% more jobs (bench, scenario 1). A dedicated NATS machine is
 * not concerned: this is only the server herald starts itself.
 */
function embeddedServerEnv(): NodeJS.ProcessEnv {
  if (process.env.GOMAXPROCS) return process.env;
  return { ...process.env, GOMAXPROCS: String(Math.max(1, Math.floor(availableParallelism() / 2))) };
}

/**
 * Starts a `nats-server` child with JetStream, on loopback, using nats/nats-server.conf and
 * overriding port and store directory. The port is chosen by nats-server itself (`-p -1`) and read
 * back from its log, so there is no window in which another process can take it.
 *
 * A pid file lives beside the store: if an earlier herald died without stopping its server (SIGKILL),
 * that orphan still holds the store's lock, so it is stopped first.
 * The design: docs/design.md, "One-process mode".
 */
export async function startEmbeddedServer(opts: EmbeddedServerOptions): Promise<EmbeddedServer> {
  // Refuses a missing binary or one below the supported floor before anything starts.
  const { bin, version } = opts.bin ? findNatsServer(opts.bin) : natsServerFromEnv();

  mkdirSync(opts.storeDir, { recursive: true });
  const pidFile = path.join(opts.storeDir, "nats-server.pid");
  stopOrphan(pidFile);

  const args = [
    "-c",
    opts.configFile ?? definitionPath("nats-server.conf"),
    "-a",
    "127.0.0.1",
    "-p",
    String(opts.port && opts.port > 0 ? opts.port : -1),
    "-m",
    opts.monitor ? "-1" : "0",
    "-sd",
    opts.storeDir,
    "-P",
    pidFile,
    ...(opts.extraArgs ?? []),
  ];
  // A process group of its own: Ctrl-C in a terminal signals herald's group, and herald then stops
  // this server itself, after its worker and connections, instead of losing it first.
  const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"], detached: true, env: embeddedServerEnv() });

  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const ready = new Promise<{ port: number; monitorPort: number | null }>((resolve, reject) => {
    let port: number | null = null;
    let monitorPort: number | null = null;
    let buffered = "";
    const tail: string[] = [];
    const timer = setTimeout(() => {
      reject(new Error(`nats-server did not become ready in ${opts.readyTimeoutMs ?? 10_000}ms:\n${tail.join("\n")}`));
    }, opts.readyTimeoutMs ?? 10_000);
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        opts.onLog?.(line);
        tail.push(line);
        if (tail.length > 30) tail.shift();
        const client = /Listening for client connections on [^\s]*:(\d+)/.exec(line);
        if (client) port = Number(client[1]);
        const http = /Starting http monitor on [^\s]*:(\d+)/.exec(line);
        if (http) monitorPort = Number(http[1]);
        if (line.includes("Server is ready") && port !== null) {
          clearTimeout(timer);
          resolve({ port, monitorPort });
        }
      }
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited (${signal ?? code}) before it was ready:\n${tail.join("\n")}`));
    });
  });

  let ports: { port: number; monitorPort: number | null };
  try {
    ports = await ready;
  } catch (err) {
    child.kill("SIGKILL");
    throw err;
  }

  let stopping: Promise<void> | null = null;
  return {
    url: `nats://127.0.0.1:${ports.port}`,
    port: ports.port,
    monitorUrl: ports.monitorPort ? `http://127.0.0.1:${ports.monitorPort}` : null,
    pid: child.pid!,
    version,
    process: child,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill("SIGTERM");
        const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(killer);
        rmSync(pidFile, { force: true });
      })();
      return stopping;
    },
  };
}

/** Kills a nats-server left running by an earlier herald that was killed without cleanup. */
function stopOrphan(pidFile: string): void {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0) return;
  let cmdline = "";
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
  } catch {
    return; // not running (or no /proc: then we cannot tell, and leave it alone)
  }
  if (!cmdline.includes("nats-server")) return;
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
  // The store lock is released when the process is gone; wait briefly for that.
  const deadline = Date.now() + 3_000;
  while (Date.now() < deadline && existsSync(`/proc/${pid}`)) {
    spawnSync("sleep", ["0.05"]);
  }
}
