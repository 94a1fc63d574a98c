import { spawn, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startEmbeddedServer, definitionPath, type EmbeddedServer } from "../../libs/nats/mod.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

export type AppKind = "api" | "worker" | "notifier";
/** Also the web page's own app (npm run stack runs it; the fault suite has no use for it). */
export type AppProcessKind = AppKind | "web";

/** Every app process started from here, so none can outlive the test run that started it. */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** One herald app as a real process: `node --import tsx apps/<kind>/main.ts`. */
export class AppProcess<K extends AppProcessKind = AppKind> {
  readonly kind: K;
  readonly proc: ChildProcess;
  url: string | null = null;
  #out = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  #done = false;

  /** `nodeArgs`: extra Node options, e.g. `--cpu-prof` (the bench's --cpu-prof=DIR). */
  constructor(kind: K, env: Record<string, string>, nodeArgs: string[] = []) {
    this.kind = kind;
    this.proc = spawn(process.execPath, [...nodeArgs, "--import", "tsx", `apps/${kind}/main.ts`], {
      cwd: ROOT,
      env: { ...process.env, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.proc.stdout!.setEncoding("utf8").on("data", (c: string) => (this.#out += c));
    this.proc.stderr!.setEncoding("utf8").on("data", (c: string) => (this.#out += c));
    live.add(this.proc);
    this.exited = new Promise((resolve) =>
      this.proc.once("exit", (code, signal) => {
        live.delete(this.proc);
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

  logs(): string {
    return this.#out;
  }

  /** Resolves when the app is serving (api, notifier: listening; worker: pulling). */
  async ready(timeoutMs = 30_000): Promise<this> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const listening = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(this.#out);
      if (this.kind !== "worker" && listening) {
        this.url = listening[1]!;
        return this;
      }
      if (this.kind === "worker" && this.#out.includes('"msg":"worker started"')) return this;
      if (this.#done) throw new Error(`${this.kind} exited before it was ready:\n${this.#out.slice(-3000)}`);
      if (Date.now() > deadline) throw new Error(`${this.kind} not ready in ${timeoutMs}ms:\n${this.#out.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.proc.kill(signal);
  }

  /** SIGTERM, and the exit it leads to (SIGKILL after `timeoutMs`). */
  async stop(timeoutMs = 20_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.kill("SIGTERM");
    const t = setTimeout(() => this.kill("SIGKILL"), timeoutMs);
    const exit = await this.exited;
    clearTimeout(t);
    return exit;
  }
}

export async function startApp(kind: AppKind, env: Record<string, string>): Promise<AppProcess> {
  return new AppProcess(kind, env).ready();
}

/** A free loopback port (for cluster routes, which must be known before the nodes start). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A node of the 3-node cluster (nats/cluster/n<i>.conf), restartable on the same ports and store. */
export class ClusterNode {
  readonly index: number;
  readonly storeDir: string;
  readonly clientPort: number;
  readonly clusterPort: number;
  readonly routes: string;
  server: EmbeddedServer | null = null;

  constructor(index: number, storeDir: string, clientPort: number, clusterPort: number, routes: string) {
    this.index = index;
    this.storeDir = storeDir;
    this.clientPort = clientPort;
    this.clusterPort = clusterPort;
    this.routes = routes;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.clientPort}`;
  }

  async start(): Promise<void> {
    this.server = await startEmbeddedServer({
      storeDir: this.storeDir,
      port: this.clientPort,
      configFile: definitionPath("cluster", `n${this.index}.conf`),
      extraArgs: ["--cluster", `nats://127.0.0.1:${this.clusterPort}`, "--routes", this.routes],
      readyTimeoutMs: 20_000,
    });
  }

  /** SIGKILL: the node is lost, as in a crash. */
  kill(): void {
    this.server?.process.kill("SIGKILL");
    this.server = null;
  }

  async stop(): Promise<void> {
    await this.server?.stop();
    this.server = null;
  }
}

export async function startCluster(baseDir: string): Promise<ClusterNode[]> {
  const clientPorts = [await freePort(), await freePort(), await freePort()];
  const clusterPorts = [await freePort(), await freePort(), await freePort()];
  const routes = clusterPorts.map((p) => `nats-route://127.0.0.1:${p}`).join(",");
  const nodes = [1, 2, 3].map(
    (i) => new ClusterNode(i, path.join(baseDir, `n${i}`), clientPorts[i - 1]!, clusterPorts[i - 1]!, routes),
  );
  await Promise.all(nodes.map((n) => n.start()));
  return nodes;
}
