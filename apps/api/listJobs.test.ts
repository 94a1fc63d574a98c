import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  JOB_INDEX_STREAM,
  JOBS_STREAM,
  RESULTS_STREAM,
  type JobList,
  type JobState,
} from "../../libs/contracts/mod.ts";
import { indexJob, readJobIndexHead } from "../../libs/jobIndex/mod.ts";
import { jobIndexHeadSubject } from "../../libs/contracts/mod.ts";
import { enqueueJob } from "../../libs/queue/mod.ts";
import { newId } from "../../libs/ids/mod.ts";
import { startStack, type Stack, type TestNotifier } from "../../test/helpers/stack.ts";
import { SseClient } from "../../test/helpers/sse.ts";
import { encodeCursor } from "./listJobsQuery.ts";

// GET /v1/jobs against a real nats-server, with no worker: jobs stay queued unless canceled.
let stack: Stack;
let notifier: TestNotifier;
beforeAll(async () => {
  stack = await startStack();
  notifier = await stack.addNotifier();
});
afterAll(async () => stack?.close());

type Client = Awaited<ReturnType<Stack["client"]>>;

async function list(c: Client, query = ""): Promise<JobList> {
  const res = await stack.http(`/v1/jobs${query}`, { headers: c.auth });
  expect(res.status, await res.clone().text()).toBe(200);
  return (await res.json()) as JobList;
}

/** Every page, following nextCursor until it is null. */
async function listAll(c: Client, query: string): Promise<{ pages: JobList[]; jobs: JobState[] }> {
  const pages: JobList[] = [];
  let cursor: string | null = null;
  do {
    const sep = query ? "&" : "?";
    const page = await list(c, cursor === null ? query : `${query}${sep}cursor=${cursor}`);
    pages.push(page);
    cursor = page.nextCursor;
  } while (cursor !== null && pages.length < 100);
  return { pages, jobs: pages.flatMap((p) => p.jobs) };
}

async function submitMany(c: Client, types: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const type of types) ids.push((await stack.submit(c.auth, type, type === "sleep" ? { ms: 10 } : 1)).jobId);
  return ids;
}

const cancel = (c: Client, jobId: string) => stack.http(`/v1/jobs/${jobId}`, { method: "DELETE", headers: c.auth });

describe("GET /v1/jobs", () => {
  it("pages through the caller's jobs newest first: no duplicates, none missing, nextCursor null at the end", async () => {
    const c = await stack.client();
    const ids = await submitMany(c, ["echo", "sleep", "echo", "echo", "sleep", "echo", "echo"]);
    const { pages, jobs } = await listAll(c, "?limit=3");
    expect(pages.map((p) => p.jobs.length)).toEqual([3, 3, 1]);
    expect(pages.at(-1)?.nextCursor).toBeNull();
    expect(jobs.map((j) => j.jobId)).toEqual([...ids].reverse());
    for (let i = 1; i < jobs.length; i++) expect(jobs[i - 1]!.createdAt >= jobs[i]!.createdAt).toBe(true);
    // Each is the very object GET /v1/jobs/:id answers.
    for (const job of jobs) expect(job).toEqual(await (await stack.http(job.statusUrl, { headers: c.auth })).json());
    // The default page holds them all.
    const whole = await list(c);
    expect(whole.jobs.map((j) => j.jobId)).toEqual([...ids].reverse());
    expect(whole.nextCursor).toBeNull();
  });

  it("lists only the caller's jobs; a client without jobs gets an empty page", async () => {
    const a = await stack.client();
    const b = await stack.client();
    const aIds = await submitMany(a, ["echo", "echo"]);
    const bIds = await submitMany(b, ["echo"]);
    expect((await list(a)).jobs.map((j) => j.jobId)).toEqual([...aIds].reverse());
    expect((await list(b)).jobs.map((j) => j.jobId)).toEqual(bIds);
    const none = await list(await stack.client());
    expect(none).toEqual({ jobs: [], nextCursor: null, eventId: expect.any(Number) });
  });

  it("filters by status and by type; a filtered page may hold fewer than limit and still have a cursor", async () => {
    const c = await stack.client();
    const ids = await submitMany(c, ["echo", "sleep", "echo", "sleep", "echo", "echo", "echo", "echo", "echo", "echo"]);
    for (const id of [ids[0]!, ids[3]!]) expect((await cancel(c, id)).status).toBe(202);

    const canceled = await listAll(c, "?status=canceled&limit=1");
    expect(canceled.jobs.map((j) => j.jobId)).toEqual([ids[3], ids[0]]);
    // A page reads at most 4 × limit entries: the newest six jobs are all queued, so the first page
    // is empty, with a cursor; null comes only at the end.
    expect(canceled.pages[0]).toMatchObject({ jobs: [], nextCursor: expect.any(String) });
    expect(canceled.pages.at(-1)?.nextCursor).toBeNull();

    const sleeps = await listAll(c, "?type=sleep");
    expect(sleeps.jobs.map((j) => j.jobId)).toEqual([ids[3], ids[1]]);

    const queuedSleeps = await listAll(c, "?type=sleep&status=queued,running");
    expect(queuedSleeps.jobs.map((j) => j.jobId)).toEqual([ids[1]]);

    const both = await listAll(c, "?status=queued,canceled&limit=4");
    expect(both.jobs.map((j) => j.jobId)).toEqual([...ids].reverse());
    expect((await list(c, "?type=nosuchtype")).jobs).toEqual([]);
  });

  it("answers bad input with 400 and its code, and changes nothing", async () => {
    const c = await stack.client();
    await submitMany(c, ["echo"]);
    const counts = async () =>
      Promise.all(
        [JOBS_STREAM, RESULTS_STREAM, JOB_INDEX_STREAM].map(async (s) => (await stack.nats.jsm.streams.info(s)).state),
      );
    const before = await counts();
    const cases: [string, string][] = [
      ["?status=done", "invalid_status"],
      ["?status=queued,nope", "invalid_status"],
      ["?status=", "invalid_status"],
      ["?limit=0", "invalid_limit"],
      ["?limit=201", "invalid_limit"],
      ["?limit=ten", "invalid_limit"],
      ["?cursor=garbage!", "invalid_cursor"],
      ["?cursor=MA", "invalid_cursor"],
      [`?cursor=${encodeCursor(3)}x.`, "invalid_cursor"],
      ["?status=queued&status=running", "invalid_status"],
      [`?cursor=${encodeCursor(3)}&cursor=${encodeCursor(2)}`, "invalid_cursor"],
    ];
    for (const [query, code] of cases) {
      const res = await stack.http(`/v1/jobs${query}`, { headers: c.auth });
      expect(res.status, query).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code, query).toBe(code);
    }
    expect((await stack.http("/v1/jobs")).status).toBe(401);
    expect(await counts()).toEqual(before);
  });

  it("eventId: every event at or below it is in the listed states, and a stream resumed from it delivers every later one", async () => {
    const c = await stack.client();
    const ids = await submitMany(c, ["echo", "echo", "echo"]);
    // Submits and cancels race with the list.
    const racing = Promise.all([
      submitMany(c, ["echo", "echo", "echo", "echo"]),
      cancel(c, ids[0]!),
      cancel(c, ids[1]!),
    ]);
    const page = await list(c, "?limit=200");
    const [later] = await racing;
    const listed = new Map(page.jobs.map((j) => [j.jobId, j]));
    for (const jobId of [...ids, ...later]) {
      for (const e of await stack.events(c.clientId, jobId)) {
        if (e.seq > page.eventId) continue;
        // An event at or below eventId: its job is listed, in a state at least as new.
        expect(listed.get(jobId), `${jobId} @${e.seq} ≤ ${page.eventId}`).toBeDefined();
        expect(listed.get(jobId)!.eventId).toBeGreaterThanOrEqual(e.seq);
      }
    }
    // Resumed from eventId, the stream delivers every event of the client stored after it.
    const sse = new SseClient({
      token: c.token,
      baseUrl: () => notifier.url,
      path: "/v1/events",
      lastEventId: String(page.eventId),
    });
    try {
      expect((await cancel(c, ids[2]!)).status).toBe(202);
      const after: number[] = [];
      for (const jobId of [...ids, ...later])
        for (const e of await stack.events(c.clientId, jobId)) if (e.seq > page.eventId) after.push(e.seq);
      after.sort((x, y) => x - y);
      await sse.waitFor((s) => s.ids.length >= after.length, 10_000, "the events after eventId");
      expect(sse.ids).toEqual(after);
    } finally {
      sse.close();
    }
  });

  it("skips an entry whose job has no events (its submit failed after indexing) and an ordinal with no entry", async () => {
    const c = await stack.client();
    const [first] = await submitMany(c, ["echo"]);
    // A submit that indexed its job and died before storing `queued`.
    await indexJob(stack.nats, c.clientId, { jobId: newId(), type: "echo", createdAt: new Date().toISOString() });
    // A submit that took the head and died before storing its entry: a gap.
    const head = await readJobIndexHead(stack.nats.jsm, c.clientId);
    await stack.nats.js.publish(
      jobIndexHeadSubject(c.clientId),
      JSON.stringify({ n: head!.head.n + 1, jobId: newId() }),
    );
    const [last] = await submitMany(c, ["echo"]);
    expect((await readJobIndexHead(stack.nats.jsm, c.clientId))?.head.n).toBe(4);
    const { jobs } = await listAll(c, "?limit=1");
    expect(jobs.map((j) => j.jobId)).toEqual([last, first]);
  });

  it("indexes a job once when its submit is retried (Idempotency-Key, or enqueueJob again for the same job)", async () => {
    const c = await stack.client();
    const headers = { ...c.auth, "content-type": "application/json", "idempotency-key": "list-once" };
    const body = JSON.stringify({ type: "echo", payload: 1 });
    const first = (await (await stack.http("/v1/jobs", { method: "POST", headers, body })).json()) as { jobId: string };
    const again = await stack.http("/v1/jobs", { method: "POST", headers, body });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((await list(c)).jobs.map((j) => j.jobId)).toEqual([first.jobId]);
    expect((await readJobIndexHead(stack.nats.jsm, c.clientId))?.head.n).toBe(1);

    // A takeover runs enqueueJob again for the same job: right away, and after another job.
    const job = {
      jobId: newId(),
      clientId: c.clientId,
      type: "echo",
      payload: 2,
      submittedAt: new Date().toISOString(),
    };
    await enqueueJob({ ...stack.nats, registry: stack.registry }, job);
    await enqueueJob({ ...stack.nats, registry: stack.registry }, job);
    expect((await readJobIndexHead(stack.nats.jsm, c.clientId))?.head.n).toBe(2);
    const other = (await stack.submit(c.auth, "echo", 3)).jobId;
    await enqueueJob({ ...stack.nats, registry: stack.registry }, job);
    const { jobs } = await listAll(c, "?limit=2");
    expect(jobs.map((j) => j.jobId)).toEqual([other, job.jobId, first.jobId]);
  });
});
