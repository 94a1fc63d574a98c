import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseDuration } from "../../libs/config/mod.ts";
import { killOnExit } from "./exitGuard.ts";
import { eachLine } from "./lines.ts";
import { waitReady } from "./waitReady.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The apps of a deployment, each a process of its own: `node --import tsx apps/<kind>/main.ts`. */
export type AppKind = "api" | "worker" | "notifier";

/**
 * What can run as a process: an app, the web page's own server (apps/web: no NATS), or herald in
 * one process with its own nats-server (apps/standalone).
 */
export type HeraldProcessKind = AppKind | "web" | "standalone";

export interface AppExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface AppProcessOptions {
  /** Extra Node options, e.g. `--cpu-prof` (the bench's --cpu-prof=DIR). */
  nodeArgs?: string[];
  /** Every line the app writes (stdout and stderr), as it comes: pino's JSON lines, mostly. */
  onLine?: (line: string) => void;
  /**
   * How much of its output the app keeps for logs() (characters, newest kept). Bounded so that a
   * long-running `npm run stack` at LOG_LEVEL=info does not grow without end; large enough that a
   * test's whole run fits.
   */
  keepLogChars?: number;
}

/**
 * Where an app says it is serving. Fastify logs its address at info level; the one-process mode
 * also prints it to stdout whatever the log level.
 */
const LISTENING: Record<HeraldProcessKind, RegExp> = {
  api: /"msg":"Server listening at (http:\/\/[^"\s]+)"/,
  worker: /"msg":"Server listening at (http:\/\/[^"\s]+)"/,
  notifier: /"msg":"Server listening at (http:\/\/[^"\s]+)"/,
  web: /"msg":"Server listening at (http:\/\/[^"\s]+)"/,
  standalone: /herald is running at (http:\/\/\S+)/,
};

/**
 * A worker takes jobs from the moment it logs "worker started", which is before its ops port
 * (/readyz) listens: waiting for /readyz would call it not ready while it already runs jobs, and
 * could see it crash on one before it counts as started. At a log level above info, /readyz it is.
 */
const IN_SERVICE: Partial<Record<HeraldProcessKind, RegExp>> = {
  worker: /"msg":"worker started"/,
};

/**
 * How long `kind` may take to stop by itself after SIGTERM: the cut-off its main.ts gives
 * onShutdown (libs/app), from the same settings. A SIGKILL before it would hide a slow shutdown
 * that the app itself reports (exit 1, "shutdown timed out").
 */
export function shutdownCutoffMs(kind: HeraldProcessKind, env: Record<string, string | undefined>): number {
  const ms = (name: string, fallback: number) => (env[name] ? (parseDuration(env[name]!) ?? fallback) : fallback);
  const drain = ms("SSE_DRAIN_WINDOW", 10_000);
  const grace = ms("WORKER_SHUTDOWN_GRACE", 10_000);
  switch (kind) {
    case "api":
    case "web":
      return 30_000;
    case "notifier":
      return drain + 20_000;
    case "worker":
      return grace + 20_000;
    case "standalone":
      return drain + grace + 20_000;
  }
}

/**
 * One herald app as a real process, on loopback. With PORT unset it listens on a port of its own
 * choosing (race-free), read back from its log; an app that does not log at info level must be
 * given a PORT (see freePort). Killed if this process exits first.
 */
export class AppProcess<K extends HeraldProcessKind = AppKind> {
  readonly kind: K;
  readonly proc: ChildProcess;
  readonly exited: Promise<AppExit>;
  /**
   * http://127.0.0.1:<port>, once known: from PORT at once, else from the log. A worker on a port of
   * its own choosing may be ready (by its "worker started") before this is known.
   */
  url: string | null = null;
  readonly #env: Record<string, string | undefined>;
  readonly #keep: number;
  #out = "";
  #done = false;
  #inService = false;

  constructor(kind: K, env: Record<string, string>, o: AppProcessOptions = {}) {
    this.kind = kind;
    this.#keep = o.keepLogChars ?? 4_000_000;
    this.#env = { ...process.env, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", ...env };
    const port = Number(this.#env.PORT);
    if (port > 0) this.url = `http://127.0.0.1:${port}`;
    this.proc = spawn(process.execPath, [...(o.nodeArgs ?? []), "--import", "tsx", `apps/${kind}/main.ts`], {
      cwd: ROOT,
      env: this.#env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    killOnExit(this.proc);
    const onLine = (line: string) => {
      this.#out += `${line}\n`;
      if (this.#out.length > this.#keep * 1.25) this.#out = this.#out.slice(-this.#keep);
      if (!this.url) this.url = LISTENING[kind].exec(line)?.[1]?.replace("localhost", "127.0.0.1") ?? null;
      if (!this.#inService && IN_SERVICE[kind]?.test(line)) this.#inService = true;
      o.onLine?.(line);
    };
    eachLine(this.proc.stdout, onLine);
    eachLine(this.proc.stderr, onLine);
    // "close", not "exit": by then every line it wrote has been read, so an app that died is
    // reported with its last words, and a line that says it was ready is never missed.
    this.exited = new Promise((resolve) =>
      this.proc.once("close", (code, signal) => {
        this.#done = true;
        resolve({ code, signal });
      }),
    );
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get running(): boolean {
    return !this.#done;
  }

  /** What the app has written so far (stdout and stderr, interleaved; the newest keepLogChars). */
  logs(): string {
    return this.#out;
  }

  /**
   * Resolves once the app is in service: its /readyz answers 200 (NATS connected, streams present)
   * at the address it said it listens on or was given; a worker, also once it logs "worker started".
   */
  async ready(timeoutMs = 60_000): Promise<this> {
    const deadline = Date.now() + timeoutMs;
    while (!this.url && !this.#inService) {
      if (this.#done) throw new Error(`${this.kind} exited before it was ready:\n${this.#out.slice(-3000)}`);
      if (Date.now() > deadline)
        throw new Error(
          `${this.kind} did not say where it listens in ${timeoutMs} ms (a log level above info hides it: give it a PORT):\n${this.#out.slice(-3000)}`,
        );
      await new Promise((r) => setTimeout(r, 50));
    }
    if (this.#inService) return this;
    await waitReady(this.url!, {
      timeoutMs: Math.max(0, deadline - Date.now()),
      what: this.kind,
      alive: () => this.running,
      logs: () => this.#out,
      readyBy: () => this.#inService,
    });
    return this;
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.proc.kill(signal);
  }

  /** SIGTERM, and the exit it leads to; SIGKILL if the app has not exited after `timeoutMs` (default: its own cut-off, and 5 s). */
  async stop(timeoutMs = shutdownCutoffMs(this.kind, this.#env) + 5_000): Promise<AppExit> {
    this.kill("SIGTERM");
    const t = setTimeout(() => this.kill("SIGKILL"), timeoutMs);
    const exit = await this.exited;
    clearTimeout(t);
    return exit;
  }
}

/** Starts an app and resolves once it is ready. */
export async function startApp<K extends HeraldProcessKind>(
  kind: K,
  env: Record<string, string>,
  o: AppProcessOptions = {},
): Promise<AppProcess<K>> {
  const app = new AppProcess(kind, env, o);
  try {
    return await app.ready();
  } catch (err) {
    // Not ready in time: do not leave it running behind the error.
    await app.stop(5_000);
    throw err;
  }
}
