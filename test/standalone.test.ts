import { afterAll, afterEach, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { unsupportedNatsServerBin } from "./helpers/unsupportedNats.ts";

// The one-process mode as a user runs it: `npm start` is `node --import tsx apps/standalone/main.ts`, started
// here as a real child process with no NATS_URL and no TOKEN_SECRET, so it starts its own
// nats-server and generates its own secret under DATA_DIR.

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const MAIN = "apps/standalone/main.ts";

/** herald's own settings: none of them leaks in from the environment the tests run in. */
const HERALD_VARS = [
  "NATS_URL",
  "NATS_REPLICAS",
  "TOKEN_SECRET",
  "TOKEN_TTL",
  "HOST",
  "PORT",
  "DATA_DIR",
  "LOG_LEVEL",
  "RESULTS_MAX_AGE",
  "JOB_MAX_DELIVER",
  "JOB_ACK_WAIT",
  "JOB_RETRY_BACKOFF",
  "WORKER_CONCURRENCY",
  "WORKER_JOBS",
  "PROGRESS_INTERVAL_MS",
  "SSE_HEARTBEAT_MS",
];

interface Herald {
  /** The herald process (what `npm start` runs); leader of its own process group. */
  proc: ChildProcess;
  dataDir: string;
  stdout(): string;
  stderr(): string;
  /** Resolves when the herald process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
}

const started: Herald[] = [];
const dataDirs: string[] = [];

function freshDataDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "herald-standalone-"));
  dataDirs.push(dir);
  return dir;
}

function startHerald(dataDir: string, env: Record<string, string> = {}): Herald {
  const base: Record<string, string | undefined> = { ...process.env };
  for (const name of HERALD_VARS) delete base[name];
  const proc = spawn(process.execPath, ["--import", "tsx", MAIN], {
    cwd: ROOT,
    env: { ...base, PORT: "0", HOST: "127.0.0.1", DATA_DIR: dataDir, LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group, as a terminal gives it, so that Ctrl-C can be sent to the group.
    detached: true,
  });
  let out = "";
  let err = "";
  proc.stdout!.setEncoding("utf8").on("data", (c: string) => (out += c));
  proc.stderr!.setEncoding("utf8").on("data", (c: string) => (err += c));
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once("exit", (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  const herald: Herald = { proc, dataDir, stdout: () => out, stderr: () => err, exited, hasExited: () => done };
  started.push(herald);
  return herald;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for the "herald is running at <url>" line on stdout; fails early if herald exits. */
async function waitForUrl(h: Herald, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = /herald is running at (http:\/\/127\.0\.0\.1:(\d+))\b/.exec(h.stdout());
    if (m) return m[1]!;
    if (h.hasExited()) {
      throw new Error(`herald exited before it was ready\nstdout:\n${h.stdout()}\nstderr:\n${h.stderr()}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`herald did not print its URL in ${timeoutMs}ms\nstdout:\n${h.stdout()}\nstderr:\n${h.stderr()}`);
    }
    await sleep(50);
  }
}

function pidFile(dataDir: string): string {
  return path.join(dataDir, "nats", "nats-server.pid");
}

function readPid(dataDir: string): number | null {
  try {
    const pid = Number(readFileSync(pidFile(dataDir), "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** A running process (a zombie, dead but not yet reaped by its parent, does not count). */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

function parentPid(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
}

async function waitUntil(what: string, timeoutMs: number, check: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting until ${what}`);
    await sleep(50);
  }
}

/** The embedded nats-server of a running herald, from its pid file: a live nats-server on that store. */
function embeddedNatsPid(dataDir: string): number {
  const pid = readPid(dataDir);
  expect(pid, `pid file ${pidFile(dataDir)}`).not.toBeNull();
  expect(existsSync(`/proc/${pid}`)).toBe(true);
  const cmd = cmdline(pid!);
  expect(cmd).toContain("nats-server");
  expect(cmd).toContain(path.join(dataDir, "nats"));
  return pid!;
}

async function http(url: string, init: RequestInit = {}): Promise<Response> {
  return fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
}

async function newClient(base: string): Promise<{ clientId: string; token: string }> {
  const res = await http(`${base}/v1/clients`, { method: "POST" });
  expect(res.status).toBe(201);
  return (await res.json()) as { clientId: string; token: string };
}

async function submitEcho(base: string, token: string, payload: unknown): Promise<string> {
  const res = await http(`${base}/v1/jobs`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ type: "echo", payload }),
  });
  expect(res.status).toBe(202);
  const body = (await res.json()) as { jobId: string; status: string };
  expect(body.status).toBe("queued");
  expect(res.headers.get("location")).toBe(`/v1/jobs/${body.jobId}`);
  return body.jobId;
}

interface JobStateBody {
  jobId: string;
  status: string;
  result: unknown;
}

async function getJob(base: string, token: string, jobId: string): Promise<{ status: number; body: JobStateBody }> {
  const res = await http(`${base}/v1/jobs/${jobId}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as JobStateBody };
}

async function waitForJobStatus(base: string, token: string, jobId: string, status: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  let last: { status: number; body: JobStateBody } | null = null;
  while (Date.now() < deadline) {
    last = await getJob(base, token, jobId);
    expect(last.status).toBe(200);
    if (last.body.status === status) return last.body;
    await sleep(100);
  }
  throw new Error(`job ${jobId} did not reach ${status} in ${timeoutMs}ms; last: ${JSON.stringify(last?.body)}`);
}

function killGroup(h: Herald): void {
  try {
    process.kill(-h.proc.pid!, "SIGKILL");
  } catch {
    // the whole group is gone already
  }
}

afterEach(async () => {
  // Every process these tests started: the tsx process groups, then any nats-server left behind
  // (an orphan is reparented but keeps its process group; the pid file catches it regardless).
  for (const h of started.splice(0)) {
    killGroup(h);
    await within(5_000, "killed herald to exit", h.exited).catch(() => {});
    const pid = readPid(h.dataDir);
    if (pid !== null && cmdline(pid).includes(path.join(h.dataDir, "nats"))) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
});

afterAll(() => {
  for (const dir of dataDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("npm start (one process, no NATS_URL)", () => {
  it("runs a job end to end with its own nats-server and a generated secret, and SIGINT stops it all", async () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.start, "what `npm start` runs").toBe(`exec node --import tsx ${MAIN}`);

    const dataDir = freshDataDir();
    const herald = startHerald(dataDir);
    const base = await waitForUrl(herald);
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(Number(new URL(base).port)).toBeGreaterThan(0);

    const { token } = await newClient(base);
    // The notifier is served on the same port: follow the client's events while the job runs.
    const ctl = new AbortController();
    const events = await fetch(`${base}/v1/events`, {
      headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
      signal: ctl.signal,
    });
    expect(events.status).toBe(200);
    const jobId = await submitEcho(base, token, { a: 1 });
    const done = await waitForJobStatus(base, token, jobId, "succeeded");
    expect(done.jobId).toBe(jobId);
    expect(done.result).toEqual({ a: 1 });
    const reader = events.body!.getReader();
    let text = "";
    while (!text.includes("event: job.succeeded")) {
      const chunk = await within(5_000, "job.succeeded over SSE", reader.read());
      if (chunk.done) break;
      text += new TextDecoder().decode(chunk.value);
    }
    ctl.abort();
    expect([...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1])).toEqual([
      "job.queued",
      "job.started",
      "job.succeeded",
    ]);

    const natsPid = embeddedNatsPid(dataDir);

    const secretFile = path.join(dataDir, "token-secret");
    expect(existsSync(secretFile)).toBe(true);
    expect(statSync(secretFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(secretFile, "utf8").trim().length).toBeGreaterThanOrEqual(32);
    expect(herald.stdout() + herald.stderr()).toContain("TOKEN_SECRET not set");

    // `kill -INT <pid>`: herald stops its worker, its connection and its nats-server, and exits 0.
    herald.proc.kill("SIGINT");
    const exit = await within(15_000, "herald to exit after SIGINT", herald.exited);
    expect(exit).toEqual({ code: 0, signal: null });
    await waitUntil(`nats-server ${natsPid} is gone`, 5_000, () => !isRunning(natsPid));
  }, 60_000);

  // Ctrl-C in a terminal sends SIGINT to the whole foreground process group (and npm relays it
  // too): herald must take the repeat for the same Ctrl-C, not for "exit now", and its nats-server
  // (in a group of its own) must be stopped by herald, after the worker and connections.
  it("Ctrl-C (SIGINT to the process group) stops it gracefully with code 0", async () => {
    for (let i = 0; i < 5; i++) {
      const dataDir = freshDataDir();
      const herald = startHerald(dataDir);
      await waitForUrl(herald);
      const natsPid = embeddedNatsPid(dataDir);
      process.kill(-herald.proc.pid!, "SIGINT");
      const exit = await within(15_000, "herald to exit after Ctrl-C", herald.exited);
      expect(exit, `run ${i + 1}\n${herald.stdout()}`).toEqual({ code: 0, signal: null });
      expect(herald.stdout()).toContain('"msg":"stopped"');
      await waitUntil(`nats-server ${natsPid} is gone`, 5_000, () => !isRunning(natsPid));
    }
  }, 120_000);

  it("a start after a SIGKILL stops the orphaned nats-server, keeps the jobs and accepts the old tokens", async () => {
    const dataDir = freshDataDir();
    const first = startHerald(dataDir);
    const base1 = await waitForUrl(first);
    const { token } = await newClient(base1);
    const jobId = await submitEcho(base1, token, { a: 1 });
    await waitForJobStatus(base1, token, jobId, "succeeded");
    const secret = readFileSync(path.join(dataDir, "token-secret"), "utf8");

    // SIGKILL herald itself (the nats-server's parent), as the OOM
    // killer would: it gets no chance to stop its nats-server.
    const orphanPid = embeddedNatsPid(dataDir);
    const heraldPid = parentPid(orphanPid);
    expect(heraldPid).not.toBe(process.pid);
    expect(cmdline(heraldPid)).toContain(MAIN);
    process.kill(heraldPid, "SIGKILL");
    await within(10_000, "herald to exit after it was killed", first.exited);
    await sleep(200);
    expect(isRunning(orphanPid), "the nats-server outlived its herald (orphan)").toBe(true);

    const second = startHerald(dataDir);
    const base2 = await waitForUrl(second);
    expect(isRunning(orphanPid), "the orphan was stopped").toBe(false);
    const natsPid = embeddedNatsPid(dataDir);
    expect(natsPid).not.toBe(orphanPid);
    expect(readFileSync(path.join(dataDir, "token-secret"), "utf8")).toBe(secret);

    // The old token still works (same secret), and the job stored before the kill is still there.
    const before = await getJob(base2, token, jobId);
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ jobId, status: "succeeded", result: { a: 1 } });

    // And it works: a new job with the old token runs to the end.
    const next = await submitEcho(base2, token, { b: 2 });
    expect((await waitForJobStatus(base2, token, next, "succeeded")).result).toEqual({ b: 2 });

    // `kill <pid>` (SIGTERM to herald alone, as `docker stop` or a process manager would send it).
    second.proc.kill("SIGTERM");
    const exit = await within(15_000, "herald to exit after SIGTERM", second.exited);
    expect(exit).toEqual({ code: 0, signal: null });
    await waitUntil(`nats-server ${natsPid} is gone`, 5_000, () => !isRunning(natsPid));
  }, 90_000);

  it("without nats-server: exits non-zero at once and says how to install it", async () => {
    const dataDir = freshDataDir();
    const herald = startHerald(dataDir, { NATS_SERVER_BIN: "/nonexistent/nats-server" });
    const exit = await within(15_000, "herald to exit without nats-server", herald.exited);
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(herald.stderr()).toContain("nats-server not found");
    expect(herald.stderr()).toContain("npm run setup");
    expect(herald.stdout()).not.toContain("herald is running");
  }, 30_000);

  it("with nats-server 2.9: exits 1 at once, naming the version found and what to do", async () => {
    const dataDir = freshDataDir();
    const herald = startHerald(dataDir, { NATS_SERVER_BIN: unsupportedNatsServerBin() });
    const exit = await within(15_000, "herald to exit with nats-server 2.9", herald.exited);
    expect(exit).toEqual({ code: 1, signal: null });
    expect(herald.stderr()).toMatch(/nats-server 2\.9\.\d+ .*older than 2\.10\.14/);
    expect(herald.stderr()).toContain("npm run setup");
    expect(readPid(dataDir)).toBeNull(); // no server was started
  }, 30_000);

  it("with bad settings: exits 1 and names every bad variable, before it starts anything", async () => {
    const dataDir = path.join(freshDataDir(), "never-created");
    const herald = startHerald(dataDir, { PORT: "abc", WORKER_CONCURRENCY: "0" });
    const exit = await within(15_000, "herald to exit with a bad configuration", herald.exited);
    expect(exit).toEqual({ code: 1, signal: null });
    expect(herald.stderr()).toMatch(/PORT="abc"/);
    expect(herald.stderr()).toMatch(/WORKER_CONCURRENCY="0"/);
    expect(herald.stdout()).not.toContain("herald is running");
    expect(existsSync(dataDir)).toBe(false);
  }, 30_000);
});
