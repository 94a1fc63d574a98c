import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JOBS_STREAM, type JobMessage } from "../../libs/contracts/mod.ts";
import { defineJob, Type, type JobType } from "../../libs/jobs/mod.ts";
import { enqueueJob } from "../../libs/queue/mod.ts";
import { provisionTypeConsumers } from "../../libs/nats/mod.ts";
import { newId } from "../../libs/ids/mod.ts";
import { startStack, type Stack } from "../../test/helpers/stack.ts";
import { formatReport, readReport } from "../cli/commands/inspect.ts";

// Concurrency per type against a real nats-server: the cap is the type's consumer's
// max_ack_pending, so it holds across workers. The workers here run in this process, each on its
// own NATS connection: to JetStream they are as separate as worker processes, and their handlers
// can count what runs at once.

/** How many jobs of each type run now, and the most that ever did at once. */
const running = new Map<string, number>();
const peak = new Map<string, number>();
async function counted<T>(type: string, body: () => Promise<T>): Promise<T> {
  const now = (running.get(type) ?? 0) + 1;
  running.set(type, now);
  peak.set(type, Math.max(peak.get(type) ?? 0, now));
  try {
    return await body();
  } finally {
    running.set(type, running.get(type)! - 1);
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(t);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/** A gate the test opens: `gated` jobs run until it does. */
let openGate: () => void = () => undefined;
let gate = new Promise<void>((r) => (openGate = r));

const TYPES: JobType[] = [
  defineJob({
    name: "pair",
    concurrency: 2,
    schema: Type.Object({}),
    run: ({ signal }) => counted("pair", () => sleep(150, signal)),
  }),
  defineJob({
    name: "gated",
    concurrency: 1,
    schema: Type.Object({}),
    run: () => counted("gated", () => gate),
  }),
];

type Auth = { authorization: string };
const statusOf = async (stack: Stack, auth: Auth, jobId: string) =>
  ((await (await stack.http(`/v1/jobs/${jobId}`, { headers: auth })).json()) as { status: string }).status;

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("concurrency per type, two workers of 4 slots each", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({
      workers: 2,
      workerConcurrency: 4,
      jobTypes: TYPES,
      workerOptions: { typeConsumersRefreshMs: 100 },
    });
  });
  afterAll(async () => {
    openGate();
    await stack?.close();
  });

  it("runs at most `concurrency` jobs of a type at once across all workers, however many slots are free", async () => {
    const c = await stack.client();
    const jobs = await Promise.all(Array.from({ length: 8 }, () => stack.submit(c.auth, "pair", {})));
    const ends = await Promise.all(jobs.map((j) => stack.waitForTerminal(c.clientId, j.jobId)));
    expect(ends.map((e) => e.event.event)).toEqual(Array(8).fill("succeeded"));
    // 8 free slots and 8 jobs: without the cap all 8 would have run at once.
    expect(peak.get("pair")).toBe(2);
  });

  it("a type at its cap holds back only its own jobs; /metrics and herald inspect show it", async () => {
    const c = await stack.client();
    const gatedJobs = [];
    for (let i = 0; i < 3; i++) gatedJobs.push(await stack.submit(c.auth, "gated", {}));
    await waitFor("a gated job runs", async () => running.get("gated") === 1);

    // Other types run while `gated` is at its cap, on the slots it leaves.
    const echoes = await Promise.all(Array.from({ length: 5 }, (_, i) => stack.submit(c.auth, "echo", { i })));
    const echoEnds = await Promise.all(echoes.map((j) => stack.waitForTerminal(c.clientId, j.jobId)));
    expect(echoEnds.map((e) => e.event.event)).toEqual(Array(5).fill("succeeded"));
    const statuses = await Promise.all(gatedJobs.map((j) => statusOf(stack, c.auth, j.jobId)));
    expect(statuses.sort()).toEqual(["queued", "queued", "running"]);

    // What an operator sees: the cap, the one held, the two held back.
    const gauge = async (name: string) =>
      (await stack.metrics.registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.type === "gated")?.value;
    await waitFor("/metrics shows gated at its cap", async () => (await gauge("herald_job_type_queued")) === 2);
    expect(await gauge("herald_job_type_concurrency")).toBe(1);
    expect(await gauge("herald_job_type_in_flight")).toBe(1);
    const report = await readReport(stack.nats.jsm, stack.server.url);
    expect(report.types).toEqual([
      { type: "gated", consumer: "workers-gated", concurrency: 1, inFlight: 1, queued: 2 },
      { type: "pair", consumer: "workers-pair", concurrency: 2, inFlight: 0, queued: 0 },
    ]);
    expect(formatReport(report)).toMatch(/\n {2}gated\s+2 queued\s+1 in flight of 1 \(consumer workers-gated\)\n/);

    openGate();
    const gatedEnds = await Promise.all(gatedJobs.map((j) => stack.waitForTerminal(c.clientId, j.jobId)));
    expect(gatedEnds.map((e) => e.event.event)).toEqual(Array(3).fill("succeeded"));
    expect(peak.get("gated")).toBe(1);
    gate = new Promise<void>((r) => (openGate = r));
  });

  it("stops pulling from a capped type's consumer an operator removed, and drops its figures from /metrics", async () => {
    const types = async () =>
      (await stack.metrics.registry.getSingleMetric("herald_job_type_concurrency")!.get()).values.map(
        (v) => v.labels.type,
      );
    expect((await types()).sort()).toEqual(["gated", "pair"]);
    await stack.nats.jsm.consumers.delete(JOBS_STREAM, "workers-pair");
    await waitFor("pair's gauges are gone", async () => (await types()).join() === "gated");
    // The workers go on: another type's job still runs.
    const c = await stack.client();
    const job = await stack.submit(c.auth, "echo", "still running");
    expect((await stack.waitForTerminal(c.clientId, job.jobId)).event.event).toBe("succeeded");
  });

  it("GET /v1/job-types shows each type's cap", async () => {
    const types = (await (await stack.http("/v1/job-types")).json()) as { name: string; concurrency: number | null }[];
    const caps = Object.fromEntries(types.map((t) => [t.name, t.concurrency]));
    expect(caps).toMatchObject({ pair: 2, gated: 1, echo: null });
  });
});

describe("the capped lane, without workers until the test starts one", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ workers: 0, jobTypes: TYPES });
  });
  afterAll(async () => {
    await stack?.close();
  });

  const queuedSubjects = async () => {
    const subjects: string[] = [];
    const { state } = await stack.nats.jsm.streams.info(JOBS_STREAM, { subjects_filter: ">" });
    for (const subject of Object.keys(state.subjects ?? {})) subjects.push(subject);
    return subjects.sort();
  };

  it("a capped type's job is queued in its lane, due scheduled ones too; a worker runs them from its consumer", async () => {
    const c = await stack.client();
    const now = await stack.submit(c.auth, "pair", {});
    const res = await stack.http("/v1/jobs", {
      method: "POST",
      headers: { ...c.auth, "content-type": "application/json" },
      body: JSON.stringify({ type: "pair", payload: {}, delay: "300ms" }),
    });
    expect(res.status).toBe(202);
    const later = (await res.json()) as { jobId: string };
    const echo = await stack.submit(c.auth, "echo", 1);
    expect(await queuedSubjects()).toEqual([`jobs.echo.${c.clientId}`, `jobs.pair.${c.clientId}.capped`]);

    await stack.addWorker();
    for (const j of [now, later, echo]) {
      expect((await stack.waitForTerminal(c.clientId, j.jobId)).event.event).toBe("succeeded");
    }
    // The scheduler moved the scheduled one into the capped lane, where only `workers-pair` takes it.
    const events = await stack.events(c.clientId, later.jobId);
    expect(events.map((e) => e.event.event)).toEqual(["queued", "started", "succeeded"]);
  });

  it("a worker drains a capped consumer left from a type that has no cap any more", async () => {
    // `echo` had a cap once: its consumer and a job in its lane are still there.
    await provisionTypeConsumers(stack.nats.jsm, stack.nats.defs, [{ type: "echo", concurrency: 1 }], stack.log);
    const c = await stack.client();
    const job: JobMessage = {
      jobId: newId(),
      clientId: c.clientId,
      type: "echo",
      payload: "left in the capped lane",
      submittedAt: new Date().toISOString(),
    };
    await enqueueJob({ ...stack.nats, registry: { laneOf: () => "capped" } }, job);
    expect(await queuedSubjects()).toEqual([`jobs.echo.${c.clientId}.capped`]);
    // The running worker finds the consumer on its next listing; a new one at its start.
    await stack.addWorker();
    const end = await stack.waitForTerminal(c.clientId, job.jobId);
    expect(end.event).toMatchObject({ event: "succeeded", result: "left in the capped lane" });
  });
});
