import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { EmbeddedServer } from "../../libs/nats/mod.ts";
import { startNatsServer } from "../../scripts/launcher/mod.ts";

export interface TestNats extends EmbeddedServer {
  storeDir: string;
  /** Stops the server and removes its store. */
  close(): Promise<void>;
}

/**
 * A real nats-server with JetStream for one test file: free port chosen by the server itself,
 * a temporary store, monitoring on (connz/subsz for leak checks). Stop it in afterAll; started
 * through the launcher, it is also killed if the test process ends first.
 */
export async function startTestNats(opts: { storeDir?: string } = {}): Promise<TestNats> {
  const storeDir = opts.storeDir ?? mkdtempSync(path.join(tmpdir(), "herald-nats-"));
  const server = await startNatsServer({
    storeDir,
    monitor: true,
  });
  return {
    ...server,
    storeDir,
    async close() {
      await server.stop();
      if (!opts.storeDir) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}
