import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack, type TestNotifier } from "./helpers/stack.ts";
import { startProxy } from "./helpers/proxy.ts";

// The real `herald` command as a subprocess, against a stack behind a proxy (API + notifiers on one URL).
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BIN = path.join(ROOT, "bin", "herald.mjs");
let stack: Stack;
let notifiers: TestNotifier[];
let current = 0;
let proxy: Awaited<ReturnType<typeof startProxy>>;
const home = mkdtempSync(path.join(tmpdir(), "herald-cli-"));

beforeAll(async () => {
  stack = await startStack({ workers: 1, env: { PROGRESS_INTERVAL_MS: "0" } });
  notifiers = [await stack.addNotifier(), await stack.addNotifier()];
  proxy = await startProxy(stack.url, () => notifiers[current]!.url);
});
afterAll(async () => {
  await proxy?.close();
  await stack?.close();
  rmSync(home, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function herald(
  args: string[],
  opts: { env?: Record<string, string>; onStdout?: (chunk: string) => void; signal?: AbortSignal } = {},
) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, XDG_CONFIG_HOME: home, HERALD_URL: proxy.url, NO_COLOR: "1", ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (c: string) => {
    stdout += c;
    opts.onStdout?.(c);
  });
  child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const done = new Promise<Run>((resolve) => child.once("exit", (code) => resolve({ code, stdout, stderr })));
  return { child, done, stderr: () => stderr };
}
const run = (args: string[], env?: Record<string, string>) => herald(args, env ? { env } : {}).done;

describe("herald CLI", () => {
  it("login keeps the token in $XDG_CONFIG_HOME/herald (0600); token prints it", async () => {
    const r = await run(["login"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^logged in to http:\/\/127\.0\.0\.1:\d+ as [0-9A-Z]{26}/);
    const file = path.join(home, "herald", "credentials.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = JSON.parse(readFileSync(file, "utf8")) as { servers: Record<string, { token: string }> };
    const t = await run(["token"]);
    expect(t.stdout.trim()).toBe(stored.servers[proxy.url]!.token);
  });

  it("submit --wait: the result and exit 0 on success, exit 1 on failure", async () => {
    const ok = await run(["submit", "sleep", "--payload", '{"ms":200,"steps":2}', "--wait"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ sleptMs: 200, steps: 2 });
    expect(ok.stderr).toContain("progress 50% step 1 of 2"); // plain lines when not on a terminal
    const bad = await run(["submit", "fail", "--payload", '{"message":"nope"}', "--wait"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("job failed: job_failed: nope");
  });

  it("submit --webhook: the job's own webhook, refused with why when its address is", async () => {
    const refused = await run(["submit", "echo", "--payload", "1", "--webhook", "https://127.0.0.1/hook"]);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/loopback/);
  });

  it("submit --timeout: each attempt's time limit; a bad one is a usage error", async () => {
    const late = await run(["submit", "sleep", "--payload", '{"ms":60000}', "--timeout", "200ms", "--wait"]);
    expect(late.code).toBe(1);
    expect(late.stderr).toContain("job failed: timeout: the attempt ran past its time limit of 200ms");
    const bad = await run(["submit", "sleep", "--payload", '{"ms":1}', "--timeout", "soon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("timeout");
  });

  it("usage errors exit 2", async () => {
    expect((await run(["submit"])).code).toBe(2);
    expect((await run(["submit", "echo", "--payload", "{nope"])).code).toBe(2);
    expect((await run(["submit", "nope-type"])).code).toBe(2);
    expect((await run(["frobnicate"])).code).toBe(2);
    expect((await run(["tail", "--since", "yesterday"])).code).toBe(2);
    const help = await run(["submit", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Examples:");
  });

  it("status, cancel and clear errors for an unknown job, an expired token, an unreachable server", async () => {
    const id = (await run(["submit", "sleep", "--payload", '{"ms":20000}'])).stdout.trim();
    expect(id).toMatch(/^[0-9A-Z]{26}$/);
    const st = await run(["status", id, "--json"]);
    expect(JSON.parse(st.stdout)).toMatchObject({ jobId: id, type: "sleep" });
    expect((await run(["cancel", id])).stdout).toContain(`${id} canceled`);
    const again = await run(["cancel", id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("has already ended");
    const missing = await run(["status", "01ARZ3NDEKTSV4RRFFQ69G5FAV"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no such job");

    const expiredHome = mkdtempSync(path.join(tmpdir(), "herald-cli-expired-"));
    const expired = await stack.tokens.mint("someone", -120_000);
    mkdirSync(path.join(expiredHome, "herald"));
    writeFileSync(
      path.join(expiredHome, "herald", "credentials.json"),
      JSON.stringify({
        defaultUrl: proxy.url,
        servers: { [proxy.url]: { clientId: "someone", token: expired.token, expiresAt: expired.expiresAt } },
      }),
    );
    const r = await run(["status", id], { XDG_CONFIG_HOME: expiredHome });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("your token");
    expect(r.stderr).toContain("has expired: run `herald login");
    rmSync(expiredHome, { recursive: true, force: true });

    const offlineHome = mkdtempSync(path.join(tmpdir(), "herald-cli-offline-"));
    mkdirSync(path.join(offlineHome, "herald"));
    writeFileSync(
      path.join(offlineHome, "herald", "credentials.json"),
      JSON.stringify({ servers: { "http://127.0.0.1:9": { clientId: "x", token: "t", expiresAt: "" } } }),
    );
    const off = await run(["status", id, "--url", "http://127.0.0.1:9"], { XDG_CONFIG_HOME: offlineHome });
    expect(off.code).toBe(1);
    expect(off.stderr).toContain("cannot reach herald at http://127.0.0.1:9");
    rmSync(offlineHome, { recursive: true, force: true });
  });

  it("status --wait: the state once the job has ended (exit by outcome), or 124 when the user's limit runs out", async () => {
    const ok = (await run(["submit", "sleep", "--payload", '{"ms":300,"steps":3}'])).stdout.trim();
    const done = await run(["status", ok, "--wait", "--json"]);
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({
      jobId: ok,
      status: "succeeded",
      result: { sleptMs: 300, steps: 3 },
    });
    const bad = (await run(["submit", "fail", "--payload", '{"message":"nope"}'])).stdout.trim();
    const failed = await run(["status", bad, "--wait", "30"]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain("failed");
    const long = (await run(["submit", "sleep", "--payload", '{"ms":60000}'])).stdout.trim();
    const notYet = await run(["status", long, "--wait", "1", "--json"]);
    expect(notYet.code).toBe(124);
    expect(JSON.parse(notYet.stdout)).toMatchObject({ jobId: long, finishedAt: null });
    await run(["cancel", long]);
    expect((await run(["status", long, "--wait", "soon"])).code).toBe(2);
  });

  it("jobs: newest first, a page at a time with the next page's command on stderr, filtered by status and type", async () => {
    const submitted: string[] = [];
    for (const type of ["echo", "sleep", "echo"])
      submitted.push((await run(["submit", type, "--payload", type === "sleep" ? '{"ms":20000}' : "1"])).stdout.trim());
    const newest = submitted.reverse();
    const all = await run(["jobs", "--json"]);
    expect(all.code).toBe(0);
    const lines = all.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { jobId: string; status: string });
    expect(lines.slice(0, 3).map((j) => j.jobId)).toEqual(newest);

    const first = await run(["jobs", "--limit", "1"]);
    expect(first.stdout).toMatch(new RegExp(`^${newest[0]}  echo  `));
    const cursor = /--cursor (\S+)/.exec(first.stderr)?.[1];
    expect(cursor, first.stderr).toBeDefined();
    const second = await run(["jobs", "--limit", "1", "--cursor", cursor!, "--json"]);
    expect(JSON.parse(second.stdout).jobId).toBe(newest[1]);

    const everyPage = await run(["jobs", "--limit", "2", "--all", "--json"]);
    expect(
      everyPage.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).jobId),
    ).toEqual(lines.map((j) => j.jobId));
    expect(everyPage.stderr).toBe("");

    const sleeping = await run(["jobs", "--type", "sleep", "--status", "queued,running", "--json", "--all"]);
    expect(
      sleeping.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).jobId),
    ).toContain(newest[1]);
    expect(sleeping.stdout).not.toContain(newest[0]);
    await run(["cancel", newest[1]!]);
    expect((await run(["jobs", "--status", "nope"])).code).toBe(2);
    expect((await run(["jobs", "--limit", "500"])).code).toBe(2);
    const bad = await run(["jobs", "--cursor", "garbage!"]);
    expect(bad.code).toBe(2); // the server said 400: a usage error
    expect(bad.stderr).toContain("cursor");
  });

  it("tail --json: one parseable line per event, in order; it resumes across a notifier restart with nothing missed or repeated", async () => {
    const lines: string[] = [];
    let buffer = "";
    const ctl = herald(["tail", "--since", "earliest", "--json"], {
      onStdout: (c) => {
        buffer += c;
        const parts = buffer.split("\n");
        buffer = parts.pop()!;
        lines.push(...parts);
      },
    });
    const ids = () => lines.map((l) => (JSON.parse(l) as { id: number }).id);
    // `--since earliest` also replays the earlier tests' jobs: wait only on this test's own.
    const has = (jobId: string, event: string) =>
      lines.some((l) => {
        const e = JSON.parse(l) as { jobId: string; event: string };
        return e.jobId === jobId && e.event === event;
      });
    const first = (await run(["submit", "sleep", "--payload", '{"ms":600,"steps":6}'])).stdout.trim();
    await expect.poll(() => has(first, "progress"), { timeout: 10_000 }).toBe(true);
    // The notifier it is connected to goes away; the proxy now sends it to the other one.
    const before = current;
    current = 1 - current;
    await notifiers[before]!.stop();
    notifiers[before] = await stack.addNotifier();
    const second = (await run(["submit", "echo", "--payload", '{"after":"restart"}'])).stdout.trim();
    await expect.poll(() => has(first, "succeeded") && has(second, "succeeded"), { timeout: 15_000 }).toBe(true);
    ctl.child.kill("SIGINT");
    const r = await ctl.done;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain("resumed");
    const all = ids();
    expect(new Set(all).size).toBe(all.length);
    expect(all).toEqual([...all].sort((a, b) => a - b));
    // Every stored event of both jobs arrived.
    for (const jobId of [first, second]) {
      const stored = await stack.events(JSON.parse(lines[0]!).clientId, jobId);
      const seen = lines
        .map((l) => JSON.parse(l) as { id: number; jobId: string })
        .filter((e) => e.jobId === jobId)
        .map((e) => e.id);
      expect(seen).toEqual(stored.map((e) => e.seq));
    }
  });

  it("Ctrl-C while waiting exits 130", async () => {
    const w = herald(["submit", "sleep", "--payload", '{"ms":20000,"steps":20}', "--wait"]);
    // Waiting, that is: the job is queued and the command follows it (not a fixed delay: on a busy
    // machine the CLI was still starting after 1.5 s, and the signal killed it before its handler).
    await expect.poll(() => /job \S+ queued/.test(w.stderr()), { timeout: 15_000 }).toBe(true);
    const id = /job (\S+) queued/.exec(w.stderr())![1]!;
    const status = async () => (JSON.parse((await run(["status", id, "--json"])).stdout) as { status: string }).status;
    await expect.poll(status, { timeout: 15_000 }).toBe("running");
    w.child.kill("SIGINT");
    const r = await w.done;
    expect(r.code).toBe(130);
    // Ctrl-C stops following, not the job: it is still running; cancel it so the next test starts quiet.
    expect(JSON.parse((await run(["status", id, "--json"])).stdout).status).toBe("running");
    expect((await run(["cancel", id])).code).toBe(0);
  });

  it("inspect: the numbers match what was submitted", async () => {
    const env = { NATS_URL: stack.server.url };
    const before = JSON.parse((await run(["inspect", "--json"], env)).stdout) as {
      results: { messages: number; lastSeq: number };
      deadLetters: { messages: number };
    };
    await run(["submit", "fail", "--wait"]);
    await run(["submit", "echo", "--payload", "1", "--wait"]);
    const after = JSON.parse((await run(["inspect", "--json"], env)).stdout) as typeof before & {
      jobs: { messages: number };
      workers: { ackPending: number };
    };
    expect(after.results.messages - before.results.messages).toBe(6); // queued, started, failed + queued, started, succeeded
    expect(after.results.lastSeq - before.results.lastSeq).toBe(6);
    expect(after.deadLetters.messages - before.deadLetters.messages).toBe(1);
    expect(after.jobs.messages).toBe(0);
    expect(after.workers.ackPending).toBe(0);
    const human = await run(["inspect"], env);
    expect(human.stdout).toMatch(/RESULTS\s+\d+ events/);
  });
});

describe("herald submit --delay / --at", () => {
  it("--delay: says it is scheduled, shows when it runs, and --wait follows it to its end once due", async () => {
    const before = Date.now();
    const r = await run(["submit", "echo", "--payload", '{"later":true}', "--delay", "1s", "--wait"]);
    expect(r.code, r.stderr).toBe(0);
    expect(Date.now() - before).toBeGreaterThanOrEqual(1_000);
    expect(JSON.parse(r.stdout)).toEqual({ later: true });
    expect(r.stderr).toMatch(/job [0-9A-Z]{26} scheduled/);
    expect(r.stderr).toMatch(/queued \(runs at \d{4}-\d\d-\d\dT/);
  });

  it("--at: status shows it scheduled and when it runs; cancel while scheduled", async () => {
    const at = new Date(Date.now() + 600_000).toISOString();
    const env = { NATS_URL: stack.server.url };
    const backlog = async () =>
      (JSON.parse((await run(["inspect", "--json"], env)).stdout) as { scheduled: { messages: number } }).scheduled;
    const before = await backlog();
    const id = (await run(["submit", "echo", "--at", at])).stdout.trim();
    expect((await backlog()).messages).toBe(before.messages + 1);
    expect((await run(["inspect"], env)).stdout).toMatch(/SCHEDULED\s+\d+ waiting/);
    const s = await run(["status", id]);
    expect(s.stdout).toContain(`${id}  echo  scheduled`);
    expect(s.stdout).toContain(`run at ${at}`);
    expect((await run(["cancel", id])).code).toBe(0);
  });

  it("both, or a bad duration: usage errors, exit 2", async () => {
    const both = await run(["submit", "echo", "--delay", "1s", "--at", new Date().toISOString()]);
    expect(both.code).toBe(2);
    const bad = await run(["submit", "echo", "--delay", "soon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("invalid_delay");
  });
});
