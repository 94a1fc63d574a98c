import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EmbeddedServer } from "../../libs/nats/mod.ts";
import { AppProcess, shutdownCutoffMs, startApp } from "./appProcess.ts";
import { freePort } from "./freePort.ts";
import { startNatsServer } from "./natsServer.ts";

const SECRET = "launcher-test-secret-at-least-32-bytes!";

describe("AppProcess: herald apps as real processes", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "herald-launcher-"));
  let nats: EmbeddedServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    nats = await startNatsServer({ storeDir: path.join(dir, "nats") });
    env = { NATS_URL: nats.url, TOKEN_SECRET: SECRET };
  });

  afterAll(async () => {
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("an api on a port of its own choosing: its URL read from its log, ready when /readyz says so; SIGTERM exits 0", async () => {
    const lines: string[] = [];
    const api = await startApp("api", env, { onLine: (l) => lines.push(l) });
    expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(`${api.url}/readyz`)).status).toBe(200);
    expect(lines.some((l) => l.includes('"msg":"Server listening at'))).toBe(true);
    expect(api.logs()).toContain('"msg":"Server listening at');
    expect(await api.stop()).toEqual({ code: 0, signal: null });
    expect(api.running).toBe(false);
    expect(api.logs()).toContain('"msg":"stopped"');
  });

  it("a worker that logs only warnings: given a PORT, ready by /readyz alone; SIGKILL is its exit", async () => {
    const port = await freePort();
    const worker = await startApp("worker", { ...env, PORT: String(port), LOG_LEVEL: "warn" });
    expect(worker.url).toBe(`http://127.0.0.1:${port}`);
    expect((await fetch(`${worker.url}/readyz`)).status).toBe(200);
    worker.kill("SIGKILL");
    expect(await worker.exited).toEqual({ code: null, signal: "SIGKILL" });
  });

  it('a worker at info level is in service once it logs "worker started", before its ops port listens (here it never can)', async () => {
    const taken = net.createServer((socket) => socket.destroy());
    await new Promise<void>((r) => taken.listen(0, "127.0.0.1", () => r()));
    try {
      const port = (taken.address() as net.AddressInfo).port;
      const worker = new AppProcess("worker", { ...env, PORT: String(port) });
      expect(await worker.ready()).toBe(worker);
      expect(worker.logs()).toContain('"msg":"worker started"');
      // Its ops port is taken: it gives up, as a worker does on a start-up error.
      expect(await worker.exited).toEqual({ code: 1, signal: null });
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });

  it("an app that exits before it is ready: ready() rejects with its output", async () => {
    const api = new AppProcess("api", { ...env, TOKEN_SECRET: "too short" });
    await expect(api.ready()).rejects.toThrow(/api exited before it was ready:[\s\S]*TOKEN_SECRET/);
    expect(await api.exited).toEqual({ code: 1, signal: null });
  });

  it("keeps only the newest output, as much as asked", async () => {
    const api = await startApp("api", env, { keepLogChars: 300 });
    expect(api.logs().length).toBeGreaterThan(0);
    expect(api.logs().length).toBeLessThanOrEqual(300 * 1.25);
    await api.stop();
    expect(api.logs()).toContain('"msg":"stopped"');
  });
});

describe("shutdownCutoffMs", () => {
  it("is each app's own cut-off from its settings, as its main.ts gives onShutdown", () => {
    expect(shutdownCutoffMs("api", {})).toBe(30_000);
    expect(shutdownCutoffMs("notifier", {})).toBe(30_000);
    expect(shutdownCutoffMs("notifier", { SSE_DRAIN_WINDOW: "3s" })).toBe(23_000);
    expect(shutdownCutoffMs("worker", { WORKER_SHUTDOWN_GRACE: "300ms" })).toBe(20_300);
    expect(shutdownCutoffMs("standalone", { SSE_DRAIN_WINDOW: "1s", WORKER_SHUTDOWN_GRACE: "2s" })).toBe(23_000);
  });
});
