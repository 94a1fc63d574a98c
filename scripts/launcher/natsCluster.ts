import path from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { definitionPath, type EmbeddedServer } from "../../libs/nats/mod.ts";
import { freePort } from "./freePort.ts";
import { startNatsServer } from "./natsServer.ts";

/**
 * A node of the 3-node cluster (nats/cluster/n<i>.conf), on loopback ports chosen once, so that it
 * can be killed and started again on the same ports and store (its routes name them).
 */
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
    this.server = await startNatsServer({
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

/**
 * The three nodes of nats/cluster/, on free loopback ports (the files' own ports suit a machine with
 * nothing else on it), each with its store in `baseDir`/n<i>. Resolves once each node is ready;
 * JetStream answers only after the nodes have elected a meta leader (waitForJetStream).
 */
export async function startCluster(baseDir: string): Promise<ClusterNode[]> {
  const clientPorts = [await freePort(), await freePort(), await freePort()];
  const clusterPorts = [await freePort(), await freePort(), await freePort()];
  const routes = clusterPorts.map((p) => `nats-route://127.0.0.1:${p}`).join(",");
  const nodes = [1, 2, 3].map(
    (i) => new ClusterNode(i, path.join(baseDir, `n${i}`), clientPorts[i - 1]!, clusterPorts[i - 1]!, routes),
  );
  const started = await Promise.allSettled(nodes.map((n) => n.start()));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) {
    // Not a cluster without all three: stop the nodes that did start.
    await Promise.all(nodes.map((n) => n.stop()));
    throw failed.reason;
  }
  return nodes;
}

/**
 * Resolves when JetStream answers an account-info request on `servers`, as compose's
 * `service_healthy` waits: on a fresh cluster that takes the election of a meta leader.
 * `check` runs before each try and may throw to give up (e.g. the caller is stopping).
 */
export async function waitForJetStream(
  servers: string[],
  check: () => void = () => undefined,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const nc = await connect({ servers, name: "herald-launcher" });
  try {
    for (;;) {
      check();
      try {
        await (await jetstreamManager(nc, { timeout: 1_000 })).getAccountInfo();
        return;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(`JetStream not available in ${timeoutMs}ms: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    await nc.close();
  }
}
