/**
 * What waiting for jobs over plain HTTP costs an api (GET /v1/jobs/:id?wait=, issue 16):
 *
 *   node --import tsx bench/waiters.ts [--waiters=5000]
 *
 * Starts a nats-server and one api (scripts/launcher, through bench/procs.ts), no worker, so jobs
 * stay queued until this script ends them. Stores N jobs (one per waiter, over 100 clients), then:
 *
 * 1. N requests `?wait=10` on jobs that do not end: the api's RSS, heap and CPU before and while
 *    they wait, then its CPU while they all run out (each reads its job's state again).
 * 2. N requests `?wait=60`; the script stores each job's `succeeded` event straight into RESULTS
 *    (as a worker would): the api's CPU and the time until every waiter has its answer.
 *
 * Prints the figures as markdown (docs/benchmarks.md, "Waiting for jobs"). Every process it starts is
 * stopped at the end, on an error and on Ctrl-C.
 */
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { createTokens } from "../libs/auth/mod.ts";
import { newId } from "../libs/ids/mod.ts";
import type { JobEvent } from "../libs/contracts/mod.ts";
import { appendEvent } from "../libs/results/mod.ts";
import {
  benchNatsServerVersion,
  cpuSeconds,
  memory,
  round,
  sleep,
  startHeraldApp,
  startNats,
  stopAll,
  stopAllOnInterrupt,
} from "./procs.ts";
import { metricSum } from "./metricsText.ts";

const N = Number(/^--waiters=(\d+)$/.exec(process.argv.find((a) => a.startsWith("--waiters=")) ?? "")?.[1] ?? 5000);
const CLIENTS = 100;
const MB = 1024 * 1024;

stopAllOnInterrupt();

// Every waiter its own connection, as N separate HTTP clients would be.
const agent = new http.Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });

function request(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? "GET", headers: opts.headers, agent }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

async function metric(apiUrl: string, name: string): Promise<number> {
  return metricSum((await request(`${apiUrl}/metrics`)).body, name) ?? Number.NaN;
}

async function apiMemory(apiUrl: string, pid: number): Promise<{ rssMB: number; heapMB: number }> {
  return {
    rssMB: round(memory(pid).rss / MB, 1),
    heapMB: round((await metric(apiUrl, "herald_nodejs_heap_size_used_bytes")) / MB, 1),
  };
}

async function inBatches<T>(items: T[], size: number, f: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(f));
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "herald-waiters-"));
  try {
    const nats = await startNats(path.join(dir, "nats"));
    const secret = randomBytes(32).toString("hex");
    const api = await startHeraldApp("api", {
      NATS_URL: nats.url,
      TOKEN_SECRET: secret,
      RATE_LIMIT_JOBS: "0",
      RATE_LIMIT_CLIENTS: "0",
      JOBS_MAX_QUEUED_PER_CLIENT: "1000000",
      LOG_LEVEL: "warn",
      HERALD_BENCH_RUN: dir,
    });
    const tokens = createTokens([secret], 3_600_000);
    const clients = await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        const clientId = newId();
        return { clientId, auth: `Bearer ${(await tokens.mint(clientId)).token}` };
      }),
    );

    // N queued jobs, one per waiter.
    const jobs: { jobId: string; auth: string; queuedSeq: number; clientId: string }[] = [];
    await inBatches(
      Array.from({ length: N }, (_, i) => clients[i % CLIENTS]!),
      100,
      async (c) => {
        const res = await request(`${api.url}/v1/jobs`, {
          method: "POST",
          headers: { authorization: c.auth, "content-type": "application/json" },
          body: JSON.stringify({ type: "echo", payload: { n: jobs.length } }),
        });
        if (res.status !== 202) throw new Error(`POST /v1/jobs: ${res.status} ${res.body}`);
        const body = JSON.parse(res.body) as { jobId: string; eventId: number };
        jobs.push({ jobId: body.jobId, auth: c.auth, queuedSeq: body.eventId, clientId: c.clientId });
      },
    );
    await sleep(3_000);
    const before = await apiMemory(api.url, api.pid);

    const openWaits = (waitS: number) => {
      const t0 = performance.now();
      const answers = jobs.map((j) =>
        request(`${api.url}/v1/jobs/${j.jobId}?wait=${waitS}`, { headers: { authorization: j.auth } }).then((r) => ({
          ...r,
          ms: performance.now() - t0,
        })),
      );
      return answers;
    };
    const allWaiting = async () => {
      const t0 = performance.now();
      while ((await metric(api.url, "herald_job_waiters")) < N) await sleep(100);
      return round((performance.now() - t0) / 1000, 1);
    };

    // CPU seconds the api and nats-server use in a phase, and the phase's length.
    const phase = () => {
      const start = { api: cpuSeconds(api.pid), nats: cpuSeconds(nats.pid), t: performance.now() };
      return () => {
        const s = (performance.now() - start.t) / 1000;
        const api_ = cpuSeconds(api.pid) - start.api;
        const nats_ = cpuSeconds(nats.pid) - start.nats;
        return `${round(s, 1)} s | ${round(api_, 2)} s (${round((api_ / s) * 100, 0)}%) | ${round(nats_, 2)} s (${round((nats_ / s) * 100, 0)}%)`;
      };
    };

    // 1. Waits that run out.
    const arrive = phase();
    const outWaits = openWaits(10);
    await allWaiting();
    const arrived = arrive();
    const idle = phase();
    await sleep(5_000);
    const idled = idle();
    const waiting = await apiMemory(api.url, api.pid);
    const runOut = phase();
    const outAnswers = await Promise.all(outWaits);
    const ranOut = runOut();
    const outOk = outAnswers.filter((a) => a.status === 200 && JSON.parse(a.body).status === "queued").length;

    // 2. Waits answered by the jobs' ends.
    const endWaits = openWaits(60);
    await allWaiting();
    const waiting2 = await apiMemory(api.url, api.pid);
    const nc = await connect({ servers: nats.url });
    const js = jetstream(nc);
    const ending = phase();
    const t1 = performance.now();
    await inBatches(jobs, 500, async (j) => {
      const e: JobEvent = {
        jobId: j.jobId,
        clientId: j.clientId,
        type: "echo",
        event: "succeeded",
        attempt: 1,
        progress: null,
        result: "done",
        error: null,
        at: new Date().toISOString(),
      };
      await appendEvent(js, e, j.queuedSeq);
    });
    const storedS = (performance.now() - t1) / 1000;
    const endAnswers = await Promise.all(endWaits);
    const ended = ending();
    const endOk = endAnswers.filter((a) => a.status === 200 && JSON.parse(a.body).status === "succeeded").length;
    await nc.close();
    await sleep(2_000);
    const after = await apiMemory(api.url, api.pid);
    const leftWaiting = await metric(api.url, "herald_job_waiters");

    const perWaiterKB = (m: { rssMB: number; heapMB: number }, k: "rssMB" | "heapMB") =>
      round(((m[k] - before[k]) * 1024) / N, 1);
    const lines = [
      `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), Node ${process.version}, nats-server ${benchNatsServerVersion()}; one api process, ${N} waiters over ${CLIENTS} clients, each on its own job, each its own connection.`,
      "",
      "| | api RSS | api heap used |",
      "|---|---|---|",
      `| before (${N} jobs stored, no waiter) | ${before.rssMB} MB | ${before.heapMB} MB |`,
      `| ${N} waiting (?wait=10) | ${waiting.rssMB} MB (+${perWaiterKB(waiting, "rssMB")} KB each) | ${waiting.heapMB} MB (+${perWaiterKB(waiting, "heapMB")} KB each) |`,
      `| ${N} waiting (?wait=60) | ${waiting2.rssMB} MB | ${waiting2.heapMB} MB |`,
      `| after (all answered, 2 s later) | ${after.rssMB} MB | ${after.heapMB} MB |`,
      "",
      "| phase | time | api CPU | nats-server CPU |",
      "|---|---|---|---|",
      `| ${N} requests arrive, are read and wait | ${arrived} |`,
      `| ${N} waiting, nothing happens | ${idled} |`,
      `| the rest of the 10 s, then ${N} waits run out together (each reads its job again) | ${ranOut} |`,
      `| ${N} jobs end (the bench stores their events: ${round(storedS, 1)} s), until every waiter has its answer | ${ended} |`,
      "",
      `Answers: ${outOk}/${N} queued at the deadline, ${endOk}/${N} succeeded at the end; herald_job_waiters after: ${leftWaiting}. CPU: seconds used in the phase (and % of one core over it).`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
