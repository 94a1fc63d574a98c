// `npm run stack`: herald's deployment topology (compose.yaml) without Docker, on loopback, from the
// same files: a 3-node NATS cluster (nats/cluster/n<i>.conf), one api, the web page, two workers, two notifiers
// (NATS_REPLICAS=3, NATS_URL listing the three nodes) and Debian's nginx in front of them, rendered
// from deploy/nginx/herald.conf.template. Prints the URL; Ctrl-C (or SIGTERM) stops everything.
//
//   npm run stack                      # http://127.0.0.1:8080
//   npm run stack -- --port 0          # nginx on a free port
//   npm run stack -- --logs            # the apps' and nginx's log lines, prefixed with their name
//   npm run stack -- --fresh           # start with an empty NATS store (default: .data/stack)
//
// Tests use `startLocalStack()` (test/deploy.test.ts): the same topology, with handles to kill and
// restart instances.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  AppProcess,
  eachLine,
  freePort,
  killOnExit,
  startCluster,
  waitForJetStream,
  waitReady,
  type HeraldProcessKind,
  type ClusterNode,
} from "./launcher/mod.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const NGINX_TEMPLATE = path.join(ROOT, "deploy", "nginx", "herald.conf.template");

export interface LocalStackOptions {
  /** NATS stores (n1, n2, n3), the pid list for orphan clean-up, and a generated TOKEN_SECRET. */
  dataDir: string;
  /** nginx's port on 127.0.0.1 (default 8080; 0: a free one). */
  port?: number;
  workers?: number;
  notifiers?: number;
  /** More environment for every app (e.g. SSE_RETRY_MS); NATS_URL, NATS_REPLICAS, PORT are the stack's. */
  env?: Record<string, string>;
  /** The nginx binary (default: NGINX_BIN, else `nginx` on PATH, else /usr/sbin/nginx). */
  nginxBin?: string;
  /** Every log line of the apps and nginx, with the instance's name (api, worker-0, notifier-1, nginx). */
  onLog?: (name: string, line: string) => void;
  /** An instance exited while the stack was running and nobody asked it to (a crash). */
  onUnexpectedExit?: (name: string, code: number | null, signal: NodeJS.Signals | null, logs: string) => void;
}

export interface LocalStackUrls {
  /** The one origin: nginx. */
  url: string;
  api: string;
  web: string;
  notifiers: string[];
  nats: string[];
}

/** Replaces every `${HERALD_…}` placeholder, as the nginx image's envsubst does; a missing value is an error. */
export function renderTemplate(template: string, vars: Record<string, string>): string {
  const missing = new Set<string>();
  const out = template.replace(/\$\{(HERALD_[A-Z0-9_]+)\}/g, (_m, name: string) => {
    const v = vars[name];
    if (v === undefined) missing.add(name);
    return v ?? "";
  });
  if (missing.size) throw new Error(`nginx template: no value for ${[...missing].join(", ")}`);
  return out;
}

/**
 * The whole nginx.conf for a local nginx run by an ordinary command (not a service): the rendered
 * template inside `http { }`, with the pid file, access log and temp files in `dir`, errors on
 * stderr. (In compose the nginx image's own nginx.conf plays this part.)
 */
export function localNginxConf(dir: string, vars: Record<string, string>): string {
  const q = (p: string) => JSON.stringify(path.join(dir, p));
  writeFileSync(path.join(dir, "herald.conf"), renderTemplate(readFileSync(NGINX_TEMPLATE, "utf8"), vars));
  return [
    "# Written by scripts/stack.ts for one run of the local stack; the site itself is herald.conf,",
    "# rendered from deploy/nginx/herald.conf.template.",
    "worker_processes 1;",
    `pid ${q("nginx.pid")};`,
    "error_log stderr warn;",
    "events { worker_connections 1024; }",
    "http {",
    "    default_type application/octet-stream;",
    `    access_log ${q("access.log")};`,
    `    client_body_temp_path ${q("tmp/client_body")};`,
    `    proxy_temp_path ${q("tmp/proxy")};`,
    `    fastcgi_temp_path ${q("tmp/fastcgi")};`,
    `    uwsgi_temp_path ${q("tmp/uwsgi")};`,
    `    scgi_temp_path ${q("tmp/scgi")};`,
    `    include ${q("herald.conf")};`,
    "}",
    "",
  ].join("\n");
}

function findNginx(bin?: string): string {
  const candidates = bin
    ? [bin]
    : process.env.NGINX_BIN
      ? [process.env.NGINX_BIN]
      : ["nginx", "/usr/sbin/nginx", "/usr/local/sbin/nginx"];
  for (const c of candidates) {
    if (!spawnSync(c, ["-v"], { stdio: "ignore" }).error) return c;
  }
  throw new Error(
    `nginx not found (tried ${candidates.join(", ")}). Install it — Debian/Ubuntu: apt-get install nginx ` +
      "(bash scripts/test-deps.sh does), macOS: brew install nginx — or set NGINX_BIN.",
  );
}

/** nginx as a child process in the foreground (`daemon off`), with its files in its own directory. */
export class NginxProcess {
  readonly dir: string;
  readonly port: number;
  readonly url: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #err = "";
  #done = false;

  constructor(bin: string, dir: string, port: number, vars: Record<string, string>, onLog?: (line: string) => void) {
    this.dir = dir;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    const conf = path.join(dir, "nginx.conf");
    writeFileSync(conf, localNginxConf(dir, vars));
    // -e: errors before the config is read go to stderr too, not to the packaged /var/log/nginx.
    this.proc = spawn(bin, ["-p", dir, "-e", "stderr", "-c", conf, "-g", "daemon off;"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    // SIGTERM: nginx's master then stops its workers, which a SIGKILLed master would leave running.
    killOnExit(this.proc, "SIGTERM");
    eachLine(this.proc.stderr, (line) => {
      this.#err = `${this.#err + line}\n`.slice(-20_000);
      onLog?.(line);
    });
    eachLine(this.proc.stdout, (line) => onLog?.(line));
    this.exited = new Promise((resolve) =>
      this.proc.once("exit", (code, signal) => {
        this.#done = true;
        resolve({ code, signal });
      }),
    );
    this.proc.once("error", (err) => (this.#err += `${err.message}\n`));
  }

  get running(): boolean {
    return !this.#done;
  }

  logs(): string {
    return this.#err;
  }

  /** Resolves when nginx answers `path` with a 2xx (through to its upstream). */
  async ready(checkPath = "/healthz", timeoutMs = 20_000): Promise<this> {
    await waitReady(this.url, {
      path: checkPath,
      timeoutMs,
      what: "nginx",
      alive: () => this.running,
      logs: () => this.#err,
    });
    return this;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.proc.kill(signal);
  }

  /** SIGTERM is nginx's fast shutdown (open event streams are cut; clients reconnect elsewhere). */
  async stop(timeoutMs = 5_000): Promise<void> {
    this.kill("SIGTERM");
    const t = setTimeout(() => this.kill("SIGKILL"), timeoutMs);
    await this.exited;
    clearTimeout(t);
  }
}

/** A record of the stack's children in its data dir, so that a run killed without clean-up (SIGKILL) leaves nothing behind after the next start. */
class PidFile {
  readonly dataDir: string;
  readonly file: string;
  constructor(dataDir: string) {
    this.dataDir = dataDir;
    this.file = path.join(dataDir, "stack.pids");
  }

  /**
   * Kills what an earlier run (or a failed start) left: the apps and nginx listed here, and the
   * NATS nodes by the pid files they keep in their stores — only pids whose command line is still
   * one of ours — and removes that run's nginx directory.
   */
  async stopOrphans(): Promise<void> {
    let pids: number[] = [];
    let nginxDir: string | null = null;
    try {
      const saved = JSON.parse(readFileSync(this.file, "utf8")) as { pids?: unknown; nginxDir?: unknown };
      if (Array.isArray(saved.pids)) pids = saved.pids.filter((p): p is number => Number.isInteger(p) && p > 0);
      if (typeof saved.nginxDir === "string" && path.basename(saved.nginxDir).startsWith("herald-nginx-"))
        nginxDir = saved.nginxDir;
    } catch {
      // none, or unreadable: nothing to do
    }
    for (const i of [1, 2, 3]) {
      try {
        const pid = Number(readFileSync(path.join(this.dataDir, `n${i}`, "nats-server.pid"), "utf8").trim());
        if (Number.isInteger(pid) && pid > 0) pids.push(pid);
      } catch {
        // no pid file: not running
      }
    }
    const ours = (pid: number): boolean => {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
        return /apps\/(api|web|worker|notifier)\/main\.ts|nginx: master|nats-server/.test(cmdline);
      } catch {
        return false; // gone (or no /proc: then we cannot tell, and leave it alone)
      }
    };
    const signal = (pid: number, sig: NodeJS.Signals) => {
      try {
        process.kill(pid, sig);
      } catch {
        // already gone
      }
    };
    // SIGTERM first: nginx's master then stops its workers (which a SIGKILL would leave behind).
    const left = pids.filter(ours);
    for (const pid of left) signal(pid, "SIGTERM");
    const deadline = Date.now() + 5_000;
    while (left.some(ours) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const pid of left.filter(ours)) signal(pid, "SIGKILL");
    if (nginxDir) rmSync(nginxDir, { recursive: true, force: true });
    rmSync(this.file, { force: true });
  }

  write(pids: number[], nginxDir: string | null): void {
    writeFileSync(this.file, JSON.stringify({ pids, nginxDir }));
  }

  remove(): void {
    rmSync(this.file, { force: true });
  }
}

/**
 * The local stack: `start()` brings it up (and, if any part fails, stops what it started);
 * `stop()` takes it down — nginx first, then the apps (which drain), then the NATS nodes — and
 * may be called at any time, also while it starts.
 */
export class LocalStack {
  readonly opts: LocalStackOptions;
  nats: ClusterNode[] = [];
  api: AppProcess | null = null;
  web: AppProcess<"web"> | null = null;
  workers: AppProcess[] = [];
  notifiers: AppProcess[] = [];
  nginx: NginxProcess | null = null;
  /** The environment every app gets. */
  env: Record<string, string> = {};
  tokenSecret = "";
  tokenSecretGenerated = false;
  #apiPort = 0;
  #webPort = 0;
  #notifierPorts: number[] = [];
  #nginxDir: string | null = null;
  #stopping: Promise<void> | null = null;
  /** Started completely: from here on an exit nobody asked for is reported (before, start() fails with it). */
  #up = false;
  #expectedExits = new Set<ChildProcess>();
  #pids: PidFile;

  constructor(opts: LocalStackOptions) {
    this.opts = opts;
    mkdirSync(opts.dataDir, { recursive: true });
    this.#pids = new PidFile(opts.dataDir);
  }

  get urls(): LocalStackUrls {
    return {
      url: this.nginx?.url ?? "",
      api: `http://127.0.0.1:${this.#apiPort}`,
      web: `http://127.0.0.1:${this.#webPort}`,
      notifiers: this.#notifierPorts.map((p) => `http://127.0.0.1:${p}`),
      nats: this.nats.map((n) => n.url),
    };
  }

  get url(): string {
    return this.urls.url;
  }

  #checkNotStopping(): void {
    if (this.#stopping) throw new Error("the stack is stopping");
  }

  async start(): Promise<this> {
    try {
      await this.#start();
      return this;
    } catch (err) {
      await this.stop();
      // What started after stop() had begun (or that a failed start left without a handle).
      await this.#stopRunning();
      await this.#pids.stopOrphans();
      throw err;
    }
  }

  async #start(): Promise<void> {
    const o = this.opts;
    const nginxBin = findNginx(o.nginxBin); // before anything starts: the likeliest thing missing
    await this.#pids.stopOrphans();

    this.tokenSecret = o.env?.TOKEN_SECRET || process.env.TOKEN_SECRET || this.#storedSecret();

    // The nodes of nats/cluster/, on free loopback ports (the files' ports are for one machine with nothing else on it).
    this.nats = await startCluster(o.dataDir);
    this.#checkNotStopping();
    // As compose's depends_on (service_healthy) does: the apps start once JetStream answers, which
    // on a fresh cluster takes the election of a meta leader.
    await waitForJetStream(
      this.nats.map((n) => n.url),
      () => this.#checkNotStopping(),
    );

    this.#apiPort = await freePort();
    this.#webPort = await freePort();
    this.#notifierPorts = [];
    for (let i = 0; i < (o.notifiers ?? 2); i++) this.#notifierPorts.push(await freePort());
    const nginxPort = o.port === 0 ? await freePort() : (o.port ?? 8080);

    this.env = {
      ...o.env,
      NATS_URL: this.nats.map((n) => n.url).join(","),
      NATS_REPLICAS: "3",
      TOKEN_SECRET: this.tokenSecret,
      HOST: "127.0.0.1",
      TRUST_PROXY: "true",
    };

    // The api first: it creates the streams, the consumer and the bucket; then the others, at once,
    // find them in place. (All five provisioning a fresh R3 cluster at the same moment works too —
    // compose does that — but JetStream API calls then time out and are retried for seconds.)
    const api = this.#app("api", "api", this.#apiPort);
    this.api = api;
    this.#writePids();
    await api.ready(60_000);
    this.#checkNotStopping();
    const workers = Array.from({ length: o.workers ?? 2 }, (_, i) => this.#app("worker", `worker-${i}`, 0));
    const notifiers = this.#notifierPorts.map((port, i) => this.#app("notifier", `notifier-${i}`, port));
    const web = this.#app("web", "web", this.#webPort);
    this.workers = workers;
    this.notifiers = notifiers;
    this.web = web;
    this.#writePids();
    await Promise.all([...workers, ...notifiers, web].map((a) => a.ready(60_000)));
    this.#checkNotStopping();

    this.#nginxDir = mkdtempSync(path.join(tmpdir(), "herald-nginx-"));
    // nginx started as root runs its worker as an unprivileged user, which must reach the temp dirs.
    chmodSync(this.#nginxDir, 0o755);
    mkdirSync(path.join(this.#nginxDir, "tmp"), { mode: 0o755 });
    this.nginx = new NginxProcess(
      nginxBin,
      this.#nginxDir,
      nginxPort,
      {
        HERALD_LISTEN: `127.0.0.1:${nginxPort}`,
        HERALD_API_SERVERS: `server 127.0.0.1:${this.#apiPort};`,
        HERALD_WEB_SERVERS: `server 127.0.0.1:${this.#webPort};`,
        HERALD_NOTIFIER_SERVERS: this.#notifierPorts.map((p) => `server 127.0.0.1:${p};`).join(" "),
      },
      o.onLog ? (line) => o.onLog!("nginx", line) : undefined,
    );
    this.#watch("nginx", this.nginx.proc, () => this.nginx?.logs() ?? "");
    this.#writePids();
    await this.nginx.ready();
    this.#up = true;
  }

  /** TOKEN_SECRET when none is given: generated once and kept in the data dir (tokens outlive a restart, like the NATS store). */
  #storedSecret(): string {
    const file = path.join(this.opts.dataDir, "token-secret");
    if (existsSync(file)) {
      const s = readFileSync(file, "utf8").trim();
      if (Buffer.byteLength(s) >= 32) return s;
    }
    const s = randomBytes(48).toString("base64");
    writeFileSync(file, `${s}\n`, { mode: 0o600 });
    this.tokenSecretGenerated = true;
    return s;
  }

  #app<K extends HeraldProcessKind>(kind: K, name: string, port: number): AppProcess<K> {
    const onLog = this.opts.onLog;
    const app = new AppProcess(
      kind,
      { ...this.env, PORT: String(port) },
      onLog ? { onLine: (line) => onLog(name, line) } : {},
    );
    this.#watch(name, app.proc, () => app.logs());
    return app;
  }

  #watch(name: string, proc: ChildProcess, logs: () => string): void {
    proc.once("exit", (code, signal) => {
      if (!this.#up || this.#stopping || this.#expectedExits.has(proc)) return;
      this.opts.onUnexpectedExit?.(name, code, signal, logs());
    });
  }

  #children(): ChildProcess[] {
    const apps = [this.api, this.web, ...this.workers, ...this.notifiers].filter((a) => a !== null);
    return [...apps.map((a) => a.proc), ...(this.nginx ? [this.nginx.proc] : [])];
  }

  #writePids(): void {
    this.#pids.write(
      this.#children()
        .map((c) => c.pid)
        .filter((p): p is number => p !== undefined),
      this.#nginxDir,
    );
  }

  /** SIGKILLs notifier `i` (as a crash would) and waits until it is gone. */
  async killNotifier(i: number): Promise<void> {
    const n = this.notifiers[i];
    if (!n) throw new Error(`no notifier ${i}`);
    this.#expectedExits.add(n.proc);
    n.kill("SIGKILL");
    await n.exited;
  }

  /** Starts notifier `i` again on its port (nginx's upstream), after killNotifier(i). */
  async restartNotifier(i: number): Promise<AppProcess> {
    const old = this.notifiers[i];
    if (!old) throw new Error(`no notifier ${i}`);
    if (old.running) throw new Error(`notifier ${i} is still running`);
    const n = this.#app("notifier", `notifier-${i}`, this.#notifierPorts[i]!);
    this.notifiers[i] = n;
    this.#writePids();
    return n.ready(60_000);
  }

  /** Stops everything, in order; safe to call more than once. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#stopRunning();
      this.#pids.remove();
      if (this.#nginxDir) rmSync(this.#nginxDir, { recursive: true, force: true });
    })();
    return this.#stopping;
  }

  async #stopRunning(): Promise<void> {
    if (this.nginx?.running) await this.nginx.stop();
    const apps = [this.api, this.web, ...this.workers, ...this.notifiers].filter((a) => a !== null);
    // Each app gets its own shutdown cut-off (workers: WORKER_SHUTDOWN_GRACE and 20 s; notifiers:
    // SSE_DRAIN_WINDOW and 20 s) before a SIGKILL; see shutdownCutoffMs.
    await Promise.all(apps.map((a) => (a.running ? a.stop() : undefined)));
    await Promise.all(this.nats.map((n) => n.stop()));
  }
}

/** Starts the local stack; see LocalStack. */
export function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  return new LocalStack(opts).start();
}

// --- npm run stack ------------------------------------------------------------------------------

function usage(): never {
  process.stdout.write(
    [
      "usage: npm run stack -- [--port N] [--logs] [--fresh] [--data DIR]",
      "  --port N    nginx's port on 127.0.0.1 (default 8080; 0: a free one)",
      "  --logs      print the apps' and nginx's log lines",
      "  --fresh     empty the data dir first (NATS store, generated TOKEN_SECRET)",
      "  --data DIR  where the NATS store lives (default .data/stack)",
      "",
    ].join("\n"),
  );
  process.exit(2);
}

async function main(argv: string[]): Promise<void> {
  let port = 8080;
  let logs = false;
  let fresh = false;
  let dataDir = path.join(ROOT, ".data", "stack");
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--port") port = Number(argv[++i]);
    else if (a === "--logs") logs = true;
    else if (a === "--fresh") fresh = true;
    else if (a === "--data") dataDir = path.resolve(argv[++i] ?? usage());
    else usage();
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage();
  if (fresh) rmSync(dataDir, { recursive: true, force: true });

  const say = (line: string) => process.stdout.write(`stack: ${line}\n`);
  const stack = new LocalStack({
    dataDir,
    port,
    ...(logs ? { onLog: (name: string, line: string) => process.stdout.write(`[${name}] ${line}\n`) } : {}),
    onUnexpectedExit: (name, code, signal, out) => {
      say(`${name} exited unexpectedly (${signal ?? `code ${code}`}); its last output:`);
      process.stderr.write(`${out.slice(-3000)}\n`);
    },
  });

  // Ctrl-C signals the whole foreground process group: the apps and nginx get it too and begin
  // their own shutdown; the NATS nodes run in groups of their own and are stopped last, by us.
  let firstSignalAt = 0;
  let starting: Promise<unknown> = Promise.resolve();
  const onSignal = (signal: NodeJS.Signals) => {
    const now = Date.now();
    if (firstSignalAt === 0) {
      firstSignalAt = now;
      say(`${signal}: stopping (nginx, apps, NATS)…`);
      // Also when it comes while the stack starts: start() then stops what it started after this.
      void stack
        .stop()
        .then(() => starting.catch(() => undefined))
        .then(() => {
          say("stopped");
          process.exit(0);
        });
    } else if (now - firstSignalAt > 1_000) {
      // A second, later Ctrl-C: do not wait any longer.
      // The launcher's exit guard (killOnExit) signals every child as this process exits.
      say(`${signal} again: killing everything now`);
      process.exit(130);
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);

  say(
    `starting a 3-node NATS cluster, the api, the web page, 2 workers, 2 notifiers and nginx (data: ${path.relative(process.cwd(), dataDir) || "."})…`,
  );
  try {
    starting = stack.start();
    await starting;
  } catch (err) {
    if (firstSignalAt) return; // stopped while starting
    process.stderr.write(`stack: could not start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  const u = stack.urls;
  say("herald is up, behind nginx:");
  process.stdout.write(
    [
      "",
      `  ${u.url}`,
      "",
      `  nginx  ${u.url}  →  api ${u.api}`,
      `                           web ${u.web}   (/, /app.js, /styles.css)`,
      `                           notifiers ${u.notifiers.join(", ")}   (/v1/events, /v1/jobs/<id>/events)`,
      `  NATS   NATS_URL=${u.nats.join(",")}  NATS_REPLICAS=3`,
      `  TOKEN_SECRET ${process.env.TOKEN_SECRET ? "from the environment" : `kept in ${path.join(path.relative(process.cwd(), dataDir), "token-secret")}${stack.tokenSecretGenerated ? " (generated now)" : ""}`}`,
      "",
      `  try: curl -s -X POST ${u.url}/v1/clients`,
      "  Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv.slice(2));
}
