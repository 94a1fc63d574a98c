import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../log/mod.ts";
import { startTestNats, type TestNats } from "../../test/helpers/nats.ts";
import {
  startRawNatsServer,
  unsupportedNatsServerBin,
  type RawNatsServer,
} from "../../test/helpers/unsupportedNats.ts";
import { connectNats, natsServerFromEnv, NatsServerTooOldError, startEmbeddedServer, versionAtLeast } from "./mod.ts";

const log = createLogger({ level: "silent", name: "server-version-test" });
const ROOT = fileURLToPath(new URL("../../", import.meta.url));

let oldBin: string;
let old: RawNatsServer;
let current: TestNats;
beforeAll(async () => {
  oldBin = unsupportedNatsServerBin();
  old = await startRawNatsServer(oldBin);
  current = await startTestNats();
}, 60_000);
afterAll(async () => {
  await old?.stop();
  await current?.close();
});

describe("the supported nats-server releases", () => {
  it("compares versions: 2.10.14 and later are supported; 2.9, early 2.10 and unreadable ones are not", () => {
    for (const v of ["2.10.14", "2.10.27", "2.11.0-RC.1", "2.15.1", "v2.12.3", "3.0.0"])
      expect(versionAtLeast(v), v).toBe(true);
    for (const v of ["2.10.13", "2.10.0", "2.9.10", "2.9.25", "1.99.99", "", "unknown"])
      expect(versionAtLeast(v), v).toBe(false);
  });

  it("the binary chosen for this environment is the one the suite's servers run, and it is supported", async () => {
    const { version } = natsServerFromEnv();
    expect(versionAtLeast(version)).toBe(true);
    const nc = await connectNats({ servers: [current.url], name: "which-server", log });
    expect(nc.info?.version).toBe(version);
    await nc.close();
  });

  it("connecting to nats-server 2.9 fails at once with the version found and what to do; 2.10+ connects", async () => {
    const lines: string[] = [];
    const recording = pino({ level: "info" }, { write: (line: string) => lines.push(line) });
    const err = await connectNats({ servers: [old.url], name: "too-old", log: recording }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NatsServerTooOldError);
    expect((err as Error).message).toMatch(/nats-server 2\.9\.\d+ .* older than 2\.10\.14.*npm run setup/);
    // Refused on the first answer, not retried as an unreachable server would be.
    expect(lines.filter((l) => l.includes("retrying"))).toEqual([]);
    const nc = await connectNats({ servers: [current.url], name: "supported", log });
    await nc.close();
  });

  it("npm start's embedded server: a 2.9 binary is refused before it starts", async () => {
    const err = await startEmbeddedServer({ storeDir: "/nonexistent/never-created", bin: oldBin }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NatsServerTooOldError);
    expect((err as Error).message).toContain(oldBin);
  });

  it("an app (the notifier) pointed at nats-server 2.9 exits 1 and says why", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "apps/notifier/main.ts"], {
      cwd: ROOT,
      env: {
        ...process.env,
        NATS_URL: old.url,
        PORT: "0",
        HOST: "127.0.0.1",
        LOG_LEVEL: "info",
        TOKEN_SECRET: "x".repeat(32),
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    const code = await new Promise<number | null>((resolve) => child.once("exit", (c) => resolve(c)));
    expect(code).toBe(1);
    expect(stderr).toMatch(/herald: nats-server 2\.9\.\d+ .*older than 2\.10\.14/);
  }, 30_000);
});
