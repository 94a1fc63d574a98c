import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { appendEvent } from "../../libs/results/mod.ts";
import { newId } from "../../libs/ids/mod.ts";
import { NotFoundError, type JobEvent } from "../../libs/contracts/mod.ts";
import { startProvisionedNats, type ProvisionedNats } from "../../test/helpers/nats.ts";
import { jobStreamStart } from "./jobStreamStart.ts";
import { queuedEvent } from "../../test/helpers/events.ts";

let nats: ProvisionedNats;
let js: JetStreamClient;
let jsm: JetStreamManager;
const CLIENT = "streamer";

beforeAll(async () => {
  nats = await startProvisionedNats("job-stream-start-test");
  ({ js, jsm } = nats);
});
afterAll(() => nats?.close());

/** Stores a job's events in RESULTS, in order; returns the job's id and each event's sequence. */
async function job(events: JobEvent["event"][], clientId = CLIENT) {
  const jobId = newId();
  const base: JobEvent = queuedEvent({ jobId, clientId });
  const seqs: number[] = [];
  for (const event of events)
    seqs.push(await appendEvent(js, { ...base, event, attempt: event === "queued" ? 0 : 1 }, seqs.at(-1) ?? 0));
  return { jobId, seqs };
}

describe("jobStreamStart", () => {
  it("no job of this client's: 404 job_not_found (another client's job, too)", async () => {
    await expect(jobStreamStart(jsm, CLIENT, newId(), { kind: "live" })).rejects.toMatchObject({
      status: 404,
      code: "job_not_found",
    });
    const theirs = await job(["queued"], "someone-else");
    const err = await jobStreamStart(jsm, CLIENT, theirs.jobId, { kind: "earliest" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect(err).toMatchObject({ code: "job_not_found" });
  });

  it("a job still running: a stream, wherever the client resumes", async () => {
    const { jobId, seqs } = await job(["queued", "started"]);
    expect(await jobStreamStart(jsm, CLIENT, jobId, { kind: "live" })).toBe("open");
    expect(await jobStreamStart(jsm, CLIENT, jobId, { kind: "earliest" })).toBe("open");
    expect(await jobStreamStart(jsm, CLIENT, jobId, { kind: "after", seq: seqs.at(-1)! })).toBe("open");
  });

  it("a job that has ended: end_seen only for a client resuming at or after its terminal event", async () => {
    const { jobId, seqs } = await job(["queued", "started", "succeeded"]);
    const terminal = seqs.at(-1)!;
    expect(await jobStreamStart(jsm, CLIENT, jobId, { kind: "after", seq: terminal })).toBe("end_seen");
    expect(await jobStreamStart(jsm, CLIENT, jobId, { kind: "after", seq: terminal + 100 })).toBe("end_seen");
    expect(await jobStreamStart(jsm, CLIENT, jobId, { kind: "after", seq: terminal - 1 })).toBe("open");
    expect(await jobStreamStart(jsm, CLIENT, jobId, { kind: "earliest" })).toBe("open");
    expect(await jobStreamStart(jsm, CLIENT, jobId, { kind: "live" })).toBe("open");
  });
});
