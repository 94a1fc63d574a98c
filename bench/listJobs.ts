/**
 * What a page of GET /v1/jobs costs, by the size of the client's history (issue 16, point 1):
 *
 *   node --import tsx bench/listJobs.ts [--quick]
 *
 * Starts a nats-server and one api (scripts/launcher, through bench/procs.ts), no worker. Seeds
 * 1,000 clients straight into JOBINDEX and RESULTS, through herald's own writers (indexJob, then
 * appendEvent), each client's jobs in order and the clients interleaved: one "big" client with
 * 10,000 jobs, one "mid" with 200 and 998 "small" with 10 each. A job of three is left queued, the
 * rest get `started` and `succeeded`; the types alternate echo/sleep. Then, one request at a time,
 * 50 of each kind of page per client, after 10 to warm up: the newest page, pages at a random
 * depth (a cursor), a status filter, limit 200. Prints p50/p99 (ms) as markdown
 * (docs/benchmarks.md, "Listing jobs"). Every process it starts is stopped at the end, on an error
 * and on Ctrl-C.
 */
import os from "node:os";
import path from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { createTokens } from "../libs/auth/mod.ts";
import { newId } from "../libs/ids/mod.ts";
import type { JobEvent, JobEventName } from "../libs/contracts/mod.ts";
import { appendEvent } from "../libs/results/mod.ts";
import { indexJob } from "../libs/jobIndex/mod.ts";
import { encodeCursor } from "../apps/api/listJobsQuery.ts";
import { Latency } from "./hist.ts";
import { benchNatsServerVersion, round, startHeraldApp, startNats, stopAll, stopAllOnInterrupt } from "./procs.ts";

/** `--quick`: a smoke run of the script itself (a few clients), not a measurement. */
const QUICK = process.argv.includes("--quick");
const CLIENTS = [
  { name: "big", jobs: QUICK ? 300 : 10_000 },
  { name: "mid", jobs: QUICK ? 60 : 200 },
  ...Array.from({ length: QUICK ? 8 : 998 }, (_, i) => ({ name: `small${i}`, jobs: 10 })),
];
const SAMPLES = 50;
const WARMUP = 10;
/** Clients seeded at once (each client's own jobs one after another: its index is a chain). */
const SEED_CONCURRENCY = 64;

stopAllOnInterrupt();

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "herald-list-"));
  try {
    const nats = await startNats(path.join(dir, "nats"));
    const secret = randomBytes(32).toString("hex");
    const api = await startHeraldApp("api", {
      NATS_URL: nats.url,
      TOKEN_SECRET: secret,
      RATE_LIMIT_JOBS: "0",
      RATE_LIMIT_CLIENTS: "0",
      LOG_LEVEL: "warn",
      HERALD_BENCH_RUN: dir,
    });
    const tokens = createTokens([secret], 3_600_000);
    const nc = await connect({ servers: nats.url });
    const deps = { js: jetstream(nc), jsm: await jetstreamManager(nc) };

    // Seed: the api has provisioned JOBINDEX and RESULTS.
    const t0 = performance.now();
    const clients = CLIENTS.map((c) => ({ ...c, clientId: newId() }));
    let next = 0;
    let jobsStored = 0;
    const seedClient = async (c: (typeof clients)[number]) => {
      for (let i = 0; i < c.jobs; i++) {
        const jobId = newId();
        const type = i % 2 ? "sleep" : "echo";
        const at = new Date().toISOString();
        await indexJob(deps, c.clientId, { jobId, type, createdAt: at });
        const event = (name: JobEventName, attempt: number): JobEvent => ({
          jobId,
          clientId: c.clientId,
          type,
          event: name,
          attempt,
          progress: null,
          result: name === "succeeded" ? { ok: true } : null,
          error: null,
          at,
        });
        let seq = await appendEvent(deps.js, event("queued", 0), 0);
        if (i % 3 !== 0) {
          seq = await appendEvent(deps.js, event("started", 1), seq);
          await appendEvent(deps.js, event("succeeded", 1), seq);
        }
        jobsStored++;
      }
    };
    // The big client first, so that its jobs go in among everyone else's (its chain is the longest:
    // the last of it is stored alone).
    await Promise.all(
      Array.from({ length: SEED_CONCURRENCY }, async () => {
        while (next < clients.length) await seedClient(clients[next++]!);
      }),
    );
    const seedS = (performance.now() - t0) / 1000;
    const results = await deps.jsm.streams.info("RESULTS");
    const index = await deps.jsm.streams.info("JOBINDEX");

    const time = async (clientId: string, query: () => string): Promise<{ p50: number; p99: number; jobs: number }> => {
      const auth = `Bearer ${(await tokens.mint(clientId)).token}`;
      const latency = new Latency();
      let jobs = 0;
      for (let i = 0; i < WARMUP + SAMPLES; i++) {
        const q = query();
        const start = performance.now();
        const res = await fetch(`${api.url}/v1/jobs${q}`, { headers: { authorization: auth } });
        const body = (await res.json()) as { jobs: unknown[] };
        const took = performance.now() - start;
        if (res.status !== 200) throw new Error(`GET /v1/jobs${q}: ${res.status} ${JSON.stringify(body)}`);
        if (i >= WARMUP) {
          latency.recordMs(took);
          jobs += body.jobs.length;
        }
      }
      const { p50, p99 } = latency.summary();
      latency.destroy();
      return { p50: round(p50, 1), p99: round(p99, 1), jobs: round(jobs / SAMPLES, 0) };
    };
    const randomDepth = (n: number) => () => `?cursor=${encodeCursor(1 + Math.floor(Math.random() * n))}`;
    const rows: string[] = [];
    for (const name of ["big", "mid", "small0"]) {
      const c = clients.find((x) => x.name === name)!;
      const cells = [
        await time(c.clientId, () => ""),
        await time(c.clientId, randomDepth(c.jobs)),
        await time(c.clientId, () => "?status=queued"),
        await time(c.clientId, () => "?limit=200"),
      ];
      rows.push(
        `| ${name} (${c.jobs.toLocaleString("en")} jobs) | ${cells.map((x) => `${x.p50} / ${x.p99} (${x.jobs})`).join(" | ")} |`,
      );
    }
    await nc.close();
    const lines = [
      `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), Node ${process.version}, nats-server ${benchNatsServerVersion()}; one api process, ${clients.length} clients, ${jobsStored.toLocaleString("en")} jobs (RESULTS ${results.state.messages.toLocaleString("en")} events, ${round(results.state.bytes / 1024 / 1024, 1)} MB; JOBINDEX ${index.state.messages.toLocaleString("en")} messages), seeded in ${round(seedS, 0)} s.`,
      "",
      `GET /v1/jobs, one request at a time, ${SAMPLES} each after ${WARMUP} to warm up: p50 / p99 in ms (jobs per page, on average).`,
      "",
      "| client | newest page (limit 50) | a page at a random depth (cursor, limit 50) | `?status=queued` (limit 50, scans ≤ 200) | `?limit=200` |",
      "|---|---|---|---|---|",
      ...rows,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
