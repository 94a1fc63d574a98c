import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { JsMsg } from "@nats-io/jetstream";
import { parseAllowHosts, type AllowList } from "../../libs/webhooks/mod.ts";
import { createLogger } from "../../libs/log/mod.ts";
import { createMetrics } from "../../libs/metrics/mod.ts";
import { createJobRegistry, defineJob, PermanentJobError, Type } from "../../libs/jobs/mod.ts";
import { newId } from "../../libs/ids/mod.ts";
import {
  JOBS_STREAM,
  RESULTS_STREAM,
  resultSubject,
  WORKERS_CONSUMER,
  type JobEvent,
  type JobMessage,
} from "../../libs/contracts/mod.ts";
import { enqueueJob, listDeadLetters } from "../../libs/queue/mod.ts";
import { appendEvent, readFenceBase } from "../../libs/results/mod.ts";
import { startProvisionedNats, type ProvisionedNats } from "../../test/helpers/nats.ts";
import type { WorkerDeps } from "./deps.ts";
import { Attempt } from "./attempt.ts";

const aborted = new Map<string, unknown>();
const waitForAbort = defineJob({
  name: "wait-for-abort",
  schema: Type.Object({}),
  run: (ctx) =>
    new Promise((_, reject) =>
      ctx.signal.addEventListener("abort", () => {
        aborted.set(ctx.jobId, ctx.signal.reason);
        reject(ctx.signal.reason);
      }),
    ),
});
const throws = defineJob({
  name: "throws",
  schema: Type.Object({}),
  async run() {
    throw new Error("planned failure");
  },
});

// Fails for good, but a cancel is stored first (as if its client canceled at that moment).
const canceledThenFails = defineJob({
  name: "canceled-then-fails",
  schema: Type.Object({}),
  async run(ctx) {
    const last = (await readFenceBase(deps.jsm, ctx.clientId, ctx.jobId))!;
    await appendEvent(deps.js, { ...last.event, event: "canceled" }, last.seq);
    throw new PermanentJobError("failed after its cancel");
  },
});

// Runs past its 300 ms limit and ignores its signal: it never settles.
const neverSettles = defineJob({
  name: "never-settles",
  timeout: 300,
  schema: Type.Object({}),
  run: () => new Promise(() => undefined),
});

let nats: ProvisionedNats;
let deps: WorkerDeps;
const log = createLogger({ level: "silent" });

beforeAll(async () => {
  nats = await startProvisionedNats("attempt-test");
  deps = {
    nc: nats.nc,
    js: nats.js,
    jsm: nats.jsm,
    registry: createJobRegistry([waitForAbort, throws, canceledThenFails, neverSettles]),
    log,
    maxAttempts: 3,
    ackWaitMs: 10_000,
    retryBackoffMs: [60_000],
    progressIntervalMs: 20,
    metrics: createMetrics("attempt-test"),
    webhookConfig: nats.webhookConfig,
    webhookStatus: nats.webhookStatus,
    webhookOptions: {
      policy: { allowHttp: false, allowHosts: parseAllowHosts("") as AllowList },
      timeoutMs: 1_000,
      retryBackoffMs: [],
      concurrency: 1,
      maxInFlightPerClient: 1,
    },
  };
});
afterAll(() => nats?.close());
beforeEach(async () => {
  await deps.jsm.streams.purge(JOBS_STREAM);
});

/** Stores a job as the API does and takes its delivery from the workers consumer, as a worker does. */
async function delivered(type: string): Promise<{ job: JobMessage; msg: JsMsg; queuedSeq: number }> {
  const job: JobMessage = {
    jobId: newId(),
    clientId: newId(),
    type,
    payload: {},
    submittedAt: new Date().toISOString(),
  };
  const queuedSeq = await enqueueJob(deps, job);
  const consumer = await deps.js.consumers.get(JOBS_STREAM, WORKERS_CONSUMER);
  for await (const msg of await consumer.fetch({ max_messages: 1, expires: 5_000 })) return { job, msg, queuedSeq };
  throw new Error("no delivery");
}

async function eventsOf(job: JobMessage): Promise<JobEvent["event"][]> {
  const out: JobEvent["event"][] = [];
  for (let seq = 1; ; ) {
    const m = await deps.jsm.direct.getMessage(RESULTS_STREAM, {
      seq,
      next_by_subj: resultSubject(job.clientId, job.jobId),
    });
    if (!m) return out;
    out.push(m.json<JobEvent>().event);
    seq = m.seq + 1;
  }
}

/** Messages JOBS still holds: an acked delivery leaves (work queue; acks are not awaited: poll), a nak'ed one stays. */
const jobsHeld = async () => (await deps.jsm.streams.info(JOBS_STREAM)).state.messages;
const queuedEvent = (seq: number) => ({ seq, event: "queued" as const, attempt: 0 });

describe("Attempt", () => {
  it("begins with `started` fenced on `queued`, and settles a handler stopped by a cancel: acked, nothing more written", async () => {
    const { job, msg, queuedSeq } = await delivered("wait-for-abort");
    const attempt = new Attempt(deps, msg, job, queuedEvent(queuedSeq), new AbortController().signal);
    expect(attempt.number).toBe(1);
    expect(await attempt.begin()).toBe(true);
    const settled = attempt.runHandler().then((run) => attempt.settle(run));
    const started = (await readFenceBase(deps.jsm, job.clientId, job.jobId))!;
    expect(started.event.event).toBe("started");
    await appendEvent(deps.js, { ...started.event, event: "canceled" }, started.seq);
    expect(await settled).toBe("canceled");
    expect(aborted.get(job.jobId)).toBe("canceled");
    expect(await eventsOf(job)).toEqual(["queued", "started", "canceled"]);
    await expect.poll(jobsHeld, { timeout: 5_000 }).toBe(0);
  });

  it("begin() answers false and stores nothing when another writer came first; stopping then acks a job that has ended", async () => {
    const { job, msg, queuedSeq } = await delivered("wait-for-abort");
    const queued = (await readFenceBase(deps.jsm, job.clientId, job.jobId))!;
    await appendEvent(deps.js, { ...queued.event, event: "canceled" }, queuedSeq);
    const attempt = new Attempt(deps, msg, job, queuedEvent(queuedSeq), new AbortController().signal);
    expect(await attempt.begin()).toBe(false);
    expect(await eventsOf(job)).toEqual(["queued", "canceled"]);
    expect(await attempt.stop("superseded")).toBe("already-ended");
    await expect.poll(jobsHeld, { timeout: 5_000 }).toBe(0);
    expect(aborted.has(job.jobId)).toBe(false);
  });

  it("fails a job it cannot run at begin(), keeps its dead letter once `failed` is stored, and acks", async () => {
    const { job, msg, queuedSeq } = await delivered("ghost");
    const attempt = new Attempt(deps, msg, job, queuedEvent(queuedSeq), new AbortController().signal);
    expect(await attempt.begin()).toBe(true);
    expect(await attempt.settle(await attempt.runHandler())).toBe("failed");
    expect(await eventsOf(job)).toEqual(["queued", "failed"]);
    const letter = (await listDeadLetters(deps.jsm)).find((l) => l.job.jobId === job.jobId);
    expect(letter).toMatchObject({ attempts: 1, error: { code: "unknown_job_type" } });
    await expect.poll(jobsHeld, { timeout: 5_000 }).toBe(0);
  });

  it("keeps no dead letter when its `failed` is fenced out by a cancel: the job stays canceled, and is acked", async () => {
    const { job, msg, queuedSeq } = await delivered("canceled-then-fails");
    const attempt = new Attempt(deps, msg, job, queuedEvent(queuedSeq), new AbortController().signal);
    expect(await attempt.begin()).toBe(true);
    expect(await attempt.settle(await attempt.runHandler())).toBe("already-ended");
    expect(await eventsOf(job)).toEqual(["queued", "started", "canceled"]);
    expect((await listDeadLetters(deps.jsm)).some((l) => l.job.jobId === job.jobId)).toBe(false);
    await expect.poll(jobsHeld, { timeout: 5_000 }).toBe(0);
  });

  it("stores `retrying` for a failure before the last attempt, and hands the job back (nak) for later", async () => {
    const { job, msg, queuedSeq } = await delivered("throws");
    const attempt = new Attempt(deps, msg, job, queuedEvent(queuedSeq), new AbortController().signal);
    expect(await attempt.begin()).toBe(true);
    expect(await attempt.settle(await attempt.runHandler())).toBe("retrying");
    expect(await eventsOf(job)).toEqual(["queued", "started", "retrying"]);
    // Not acked: an ack would have removed it from JOBS by the time the server answers a flush.
    await deps.nc.flush();
    await new Promise((r) => setTimeout(r, 100));
    expect(await jobsHeld()).toBe(1);
    expect((await listDeadLetters(deps.jsm)).some((l) => l.job.jobId === job.jobId)).toBe(false);
  });

  it("counts its attempt from the job's events, and past the last one fails without running", async () => {
    const { job, msg, queuedSeq } = await delivered("throws");
    const base = (await readFenceBase(deps.jsm, job.clientId, job.jobId))!.event;
    const started = await appendEvent(deps.js, { ...base, event: "started", attempt: 3 }, queuedSeq);
    const attempt = new Attempt(
      deps,
      msg,
      job,
      { seq: started, event: "started", attempt: 3 },
      new AbortController().signal,
    );
    expect(attempt.number).toBe(4);
    expect(await attempt.begin()).toBe(true);
    expect(await attempt.settle(await attempt.runHandler())).toBe("failed");
    const last = (await readFenceBase(deps.jsm, job.clientId, job.jobId))!.event;
    expect(last).toMatchObject({ event: "failed", attempt: 3, error: { code: "max_attempts" } });
    await expect.poll(jobsHeld, { timeout: 5_000 }).toBe(0);
  });

  it("settles at its time limit when the handler ignores its signal: a cancel stored first still wins", async () => {
    const { job, msg, queuedSeq } = await delivered("never-settles");
    const attempt = new Attempt(deps, msg, job, queuedEvent(queuedSeq), new AbortController().signal);
    expect(await attempt.begin()).toBe(true);
    const started = (await readFenceBase(deps.jsm, job.clientId, job.jobId))!;
    await appendEvent(deps.js, { ...started.event, event: "canceled" }, started.seq);
    // The cancel watch sees it (canceled), or the limit comes first and its `retrying` is fenced
    // out by the cancel (already-ended): acked either way, and nothing stored after `canceled`.
    expect(["canceled", "already-ended"]).toContain(await attempt.settle(await attempt.runHandler()));
    expect(await eventsOf(job)).toEqual(["queued", "started", "canceled"]);
    await expect.poll(jobsHeld, { timeout: 5_000 }).toBe(0);
  });

  it("settles at its time limit when the handler ignores its signal: a shutdown before it stands (handed back, no timeout)", async () => {
    const { job, msg, queuedSeq } = await delivered("never-settles");
    const shutdown = new AbortController();
    const attempt = new Attempt(deps, msg, job, queuedEvent(queuedSeq), shutdown.signal);
    expect(await attempt.begin()).toBe(true);
    shutdown.abort();
    expect(await attempt.settle(await attempt.runHandler())).toBe("shutdown");
    expect(await eventsOf(job)).toEqual(["queued", "started"]);
  });
});
