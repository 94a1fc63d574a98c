import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/**
 * A real nats-server below herald's floor: Debian 12's 2.9.10, fetched once into .tools/ by
 * scripts/nats-server.sh (the same way setup gets the current one), for the tests that check
 * herald refuses it.
 */
export function unsupportedNatsServerBin(): string {
  const r = spawnSync("bash", [path.join(ROOT, "scripts/nats-server.sh"), "bookworm"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`could not get nats-server 2.9 (scripts/nats-server.sh bookworm):\n${r.stderr}`);
  return r.stdout.trim();
}

export interface RawNatsServer {
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `bin` with JetStream on a loopback port it chooses itself, read back from its log: a
 * server herald's own launcher would refuse to start.
 */
export async function startRawNatsServer(bin: string): Promise<RawNatsServer> {
  const storeDir = mkdtempSync(path.join(tmpdir(), "herald-old-nats-"));
  const child = spawn(bin, ["-js", "-sd", storeDir, "-a", "127.0.0.1", "-p", "-1"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`${bin} did not become ready:\n${log}`)), 10_000);
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      log += chunk;
      const m = /Listening for client connections on [^\s]*:(\d+)/.exec(log);
      if (m && log.includes("Server is ready")) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once("exit", () => reject(new Error(`${bin} exited before it was ready:\n${log}`)));
  });
  return {
    url: `nats://127.0.0.1:${port}`,
    process: child,
    async stop() {
      child.kill("SIGKILL");
      await exited;
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
