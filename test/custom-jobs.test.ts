import { afterAll, beforeAll, expect, it } from "vitest";
import { loadJobTypes } from "../libs/jobs/mod.ts";
import { startStack, type Stack } from "./helpers/stack.ts";

// The documented example of WORKER_JOBS, run end to end: API validates, worker runs.
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ workers: 1, jobTypes: await loadJobTypes("examples/custom-jobs.ts") });
});
afterAll(async () => stack?.close());

it("runs a job type from a WORKER_JOBS module", async () => {
  const c = await stack.client();
  const { jobId } = await stack.submit(c.auth, "wordcount", { text: "to be or not to be", top: 2 });
  const end = await stack.waitForTerminal(c.clientId, jobId);
  expect(end.event).toMatchObject({ event: "succeeded", result: { words: 6, distinct: 4, top: { be: 2, to: 2 } } });
  const bad = await stack.http("/v1/jobs", {
    method: "POST",
    headers: { ...c.auth, "content-type": "application/json" },
    body: JSON.stringify({ type: "wordcount", payload: { text: 42 } }),
  });
  expect(bad.status).toBe(400);
  const empty = await stack.submit(c.auth, "wordcount", { text: "   " });
  expect((await stack.waitForTerminal(c.clientId, empty.jobId)).event).toMatchObject({
    event: "failed",
    attempt: 1,
    error: { code: "empty_text" },
  });
});
