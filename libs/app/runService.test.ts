import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNats, type TestNats } from "../../test/helpers/nats.ts";

// runService owns a whole process (signals, exit codes), so each case runs a small service
// (runService.fixture.ts) as a child process, against a real nats-server.
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURE = "libs/app/runService.fixture.ts";

let server: TestNats;
beforeAll(async () => {
  server = await startTestNats();
});
afterAll(async () => server?.close());

interface Child {
  output(): string;
  /** The `msg` of every JSON log line, in order. */
  messages(): string[];
  url(): Promise<string>;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
}

function startFixture(env: Record<string, string>): Child {
  const base: Record<string, string | undefined> = { ...process.env };
  for (const name of Object.keys(base))
    if (/^(NATS_|TOKEN_|PORT$|HOST$|LOG_LEVEL$|DATA_DIR$)/.test(name)) delete base[name];
  const proc = spawn(process.execPath, ["--import", "tsx", FIXTURE], {
    cwd: ROOT,
    env: { ...base, PORT: "0", HOST: "127.0.0.1", LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout!.setEncoding("utf8").on("data", (c: string) => (out += c));
  proc.stderr!.setEncoding("utf8").on("data", (c: string) => (out += c));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  return {
    output: () => out,
    messages: () =>
      out
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => (JSON.parse(l) as { msg: string }).msg),
    async url() {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const m = /"msg":"Server listening at (http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
        if (m) return m[1]!;
        if (done || Date.now() > deadline) throw new Error(`the fixture did not listen:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    exited,
    kill: (signal) => proc.kill(signal),
  };
}

describe("runService", () => {
  it("refuses to start a service that needs TOKEN_SECRET without one, before it connects to anything, and exits 1", async () => {
    const child = startFixture({ FIXTURE_TOKEN_SECRET: "required", NATS_URL: server.url });
    expect(await child.exited).toBe(1);
    expect(child.output()).toMatch(/^herald: invalid configuration:\n.*TOKEN_SECRET is required/);
    expect(child.output()).not.toContain("connected to NATS");
  });

  it("with NATS: ready once connected and provisioned, serves the service's routes, and on SIGTERM drains in order and exits 0", async () => {
    const child = startFixture({ NATS_URL: server.url });
    const url = await child.url();
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", checks: { nats: true, streams: true } });
    expect(await (await fetch(`${url}/hello`)).json()).toEqual({ hello: "world" });
    expect(await (await fetch(`${url}/metrics`)).text()).toContain('app="fixture"');

    child.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    // The steps in their order. ("stopped", logged just before the exit, is left out of the order:
    // pino writes to a pipe asynchronously and flushes what is left synchronously at exit, so that
    // last line can overtake a write still in flight.)
    const messages = child.messages();
    const steps = messages.slice(messages.indexOf("shutting down")).filter((m) => m !== "stopped");
    expect(steps).toEqual([
      "shutting down",
      "HTTP server draining",
      "HTTP server closed",
      "beside stopped",
      "NATS connection drained",
    ]);
    expect(messages).toContain("stopped");
  });

  it("without NATS: ready with nothing to check, and SIGINT stops it with 0", async () => {
    const child = startFixture({ FIXTURE_NATS: "none", NATS_URL: "nats://127.0.0.1:1" });
    const url = await child.url();
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", checks: {} });
    expect(child.output()).not.toContain("NATS");
    child.kill("SIGINT");
    expect(await child.exited).toBe(0);
    expect(child.messages()).toEqual(expect.arrayContaining(["HTTP server closed", "beside stopped", "stopped"]));
  });
});
