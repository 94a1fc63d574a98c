import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { RESULTS_STREAM, resultSubject } from "../libs/contracts/mod.ts";
import { startLocalStack, type LocalStack } from "../scripts/stack.ts";
import { SseClient } from "./helpers/sse.ts";
import { metricSum } from "../bench/metricsText.ts";

// herald's deployment topology (issue 8): compose.yaml must be valid, and the same topology run
// locally (npm run stack: 3 NATS nodes, api, 2 workers, 2 notifiers, nginx) must deliver events
// through nginx as they happen, and keep a client's stream whole when its notifier is killed.

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const TERMINAL = new Set(["job.succeeded", "job.failed", "job.canceled"]);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("compose.yaml", () => {
  it("is valid for docker-compose (docker-compose -f compose.yaml config -q)", () => {
    const r = spawnSync("docker-compose", ["-f", "compose.yaml", "config", "-q"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.error, "docker-compose not found: bash scripts/test-deps.sh installs it").toBeUndefined();
    expect(r.status, r.stderr).toBe(0);

    const services = spawnSync("docker-compose", ["-f", "compose.yaml", "config", "--services"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(services.stdout.split("\n").filter(Boolean).sort()).toEqual([
      "api",
      "nats-box",
      "nats1",
      "nats2",
      "nats3",
      "nginx",
      "notifier",
      "web",
      "worker",
    ]);
  }, 120_000);
});

interface Client {
  clientId: string;
  token: string;
}

async function register(url: string): Promise<Client> {
  const res = await fetch(`${url}/v1/clients`, { method: "POST", signal: AbortSignal.timeout(10_000) });
  expect(res.status).toBe(201);
  return (await res.json()) as Client;
}

async function submit(url: string, c: Client, type: string, payload: unknown): Promise<string> {
  const res = await fetch(`${url}/v1/jobs`, {
    method: "POST",
    headers: { authorization: `Bearer ${c.token}`, "content-type": "application/json" },
    body: JSON.stringify({ type, payload }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { jobId: string };
  expect(res.status, JSON.stringify(body)).toBe(202);
  return body.jobId;
}

/** When each of the client's events arrived (ms, performance.now()), by index in `sse.events`. */
function arrivals(sse: SseClient): { times: number[]; stop(): void } {
  const times: number[] = [];
  const timer = setInterval(() => {
    while (times.length < sse.events.length) times.push(performance.now());
  }, 2);
  return { times, stop: () => clearInterval(timer) };
}

function terminalsOf(sse: SseClient, jobIds: string[]): number {
  const ids = new Set(jobIds);
  return sse.events.filter((e) => TERMINAL.has(e.event) && ids.has((JSON.parse(e.data) as { jobId: string }).jobId))
    .length;
}

/** What RESULTS holds for these jobs: the sequences (event ids), in order; read from the stream leader. */
async function storedIds(jsm: JetStreamManager, clientId: string, jobIds: string[]): Promise<number[]> {
  const seqs: number[] = [];
  for (const jobId of jobIds) {
    for (let seq = 1; ; ) {
      const query = { seq, next_by_subj: resultSubject(clientId, jobId) } as Parameters<
        JetStreamManager["streams"]["getMessage"]
      >[1];
      const m = await jsm.streams.getMessage(RESULTS_STREAM, query).catch(() => null);
      if (!m) break;
      seqs.push(m.seq);
      seq = m.seq + 1;
    }
  }
  return seqs.sort((a, b) => a - b);
}

describe("the local topology (npm run stack) through nginx", () => {
  let dir: string;
  let stack: LocalStack;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const clients: SseClient[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "herald-deploy-"));
    stack = await startLocalStack({
      dataDir: dir,
      port: 0,
      // Quick reconnects after a killed notifier; all load comes from 127.0.0.1.
      env: { SSE_RETRY_MS: "200", RATE_LIMIT_CLIENTS: "0", RATE_LIMIT_JOBS: "0" },
    });
    nc = await connect({ servers: stack.urls.nats });
    jsm = await jetstreamManager(nc);
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await nc?.close();
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 90_000);

  it("serves the web page from its own app and the API from the api, on one origin", async () => {
    const page = await fetch(`${stack.url}/`, { signal: AbortSignal.timeout(10_000) });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(await page.text()).toContain('<script type="module" src="/app.js"></script>');
    for (const file of ["/app.js", "/styles.css"]) {
      const res = await fetch(`${stack.url}${file}`, { signal: AbortSignal.timeout(10_000) });
      expect(res.status, file).toBe(200);
      await res.arrayBuffer();
    }
    // The page's app is the web one, not the api (which serves no page).
    expect((await fetch(`${stack.urls.web}/`)).status).toBe(200);
    const api = await fetch(`${stack.urls.api}/`);
    expect(api.status).toBe(404);
    await api.arrayBuffer();
  });

  it("delivers each event as it happens, not buffered by nginx", async () => {
    const c = await register(stack.url);
    const sse = new SseClient({
      token: c.token,
      baseUrl: () => stack.url,
      path: "/v1/events",
      lastEventId: "earliest",
    });
    clients.push(sse);
    await sse.waitFor((s) => s.opens >= 1, 10_000, "stream open through nginx");
    const t = arrivals(sse);

    const jobId = await submit(stack.url, c, "sleep", { ms: 2000, steps: 4 });
    await sse.waitFor((s) => terminalsOf(s, [jobId]) === 1, 20_000, "the job's terminal event");
    await pause(50);
    t.stop();

    const at = (pred: (e: { event: string }) => boolean) =>
      sse.events.flatMap((e, i) => (pred(e) ? [t.times[i]!] : []));
    const progress = at((e) => e.event === "job.progress");
    const [terminal] = at((e) => TERMINAL.has(e.event));
    expect(sse.events.map((e) => e.event)).toEqual(
      expect.arrayContaining(["job.queued", "job.started", "job.succeeded"]),
    );
    expect(progress.length).toBeGreaterThanOrEqual(3);
    // The job runs 2 s in 4 steps: the first step's progress comes ~1.5 s before the end. Through
    // a buffering proxy everything would arrive together at the end.
    expect(
      terminal! - progress[0]!,
      `arrivals (ms): ${JSON.stringify(t.times.map((x) => Math.round(x - t.times[0]!)))}`,
    ).toBeGreaterThanOrEqual(1_000);
    expect(progress.at(-1)! - progress[0]!).toBeGreaterThanOrEqual(700);

    expect(sse.ids).toEqual(await storedIds(jsm, c.clientId, [jobId]));
    sse.close();
  }, 60_000);

  it("resumes a client on the other notifier when its notifier is killed, nothing missed or repeated", async () => {
    const c = await register(stack.url);
    const streamsOnNotifiers = async () =>
      Promise.all(
        stack.urls.notifiers.map(
          async (u) => metricSum(await (await fetch(`${u}/metrics`)).text(), "herald_sse_connections") ?? 0,
        ),
      );
    const before = await streamsOnNotifiers();
    const sse = new SseClient({
      token: c.token,
      baseUrl: () => stack.url,
      path: "/v1/events",
      lastEventId: "earliest",
    });
    clients.push(sse);
    await sse.waitFor((s) => s.opens >= 1, 10_000, "stream open through nginx");
    // Which notifier nginx chose: the one whose open streams went up. (Killing one at random and,
    // if the stream did not drop, restarting it and killing the other raced the jobs: under load
    // the restart outlasted them, and the kill no longer hit running jobs.)
    let killed = -1;
    await expect
      .poll(
        async () => {
          const now = await streamsOnNotifiers();
          killed = now.findIndex((n, i) => n > before[i]!);
          return killed;
        },
        { timeout: 10_000, message: "the notifier serving the stream" },
      )
      .toBeGreaterThanOrEqual(0);

    // Long enough to outlast the kill and the reconnect: 10 s each, a progress event every 0.5 s.
    const jobIds: string[] = [];
    for (let i = 0; i < 3; i++) jobIds.push(await submit(stack.url, c, "sleep", { ms: 10_000, steps: 20 }));
    const progressed = (s: SseClient) =>
      new Set(
        s.events.filter((e) => e.event === "job.progress").map((e) => (JSON.parse(e.data) as { jobId: string }).jobId),
      ).size;
    await sse.waitFor((s) => progressed(s) === jobIds.length, 15_000, "every job running");

    const errors = sse.errors;
    const opens = sse.opens;
    await stack.killNotifier(killed);
    await sse.waitFor((s) => s.errors > errors, 5_000, "the stream to drop when its notifier was killed");
    const eventsAtKill = sse.events.length;
    expect(terminalsOf(sse, jobIds), "the kill must hit running jobs").toBe(0);

    // Reconnects go through nginx, which can now only reach the other notifier.
    await sse.waitFor((s) => s.opens > opens, 10_000, "the reconnect through nginx");
    await sse.waitFor((s) => terminalsOf(s, jobIds) === jobIds.length, 30_000, "every job's terminal event");
    expect(sse.events.length).toBeGreaterThan(eventsAtKill);
    expect(stack.notifiers[killed]!.running).toBe(false);
    expect(stack.notifiers[1 - killed]!.running).toBe(true);

    // Nothing missed, nothing repeated, in order: exactly what RESULTS holds for the client's jobs.
    const stored = await storedIds(jsm, c.clientId, jobIds);
    expect(stored.length).toBeGreaterThanOrEqual(jobIds.length * 3);
    expect(sse.ids).toEqual(stored);
    sse.close();

    // Leave the stack whole for whatever runs next.
    await stack.restartNotifier(killed);
  }, 90_000);
});
