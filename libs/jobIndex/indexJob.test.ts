import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { newId } from "../ids/mod.ts";
import { jobIndexHeadSubject } from "../contracts/mod.ts";
import { startProvisionedNats, type ProvisionedNats } from "../../test/helpers/nats.ts";
import { indexJob, readJobIndexEntry, readJobIndexHead } from "./mod.ts";

let nats: ProvisionedNats;
let deps: { js: JetStreamClient; jsm: JetStreamManager };
beforeAll(async () => {
  nats = await startProvisionedNats("job-index-test");
  deps = { js: nats.js, jsm: nats.jsm };
});
afterAll(() => nats?.close());

const entry = (type = "echo") => ({ jobId: newId(), type, createdAt: new Date().toISOString() });

describe("indexJob", () => {
  it("gives a client's concurrent submits distinct ordinals 1…N, each entry at its own", async () => {
    const clientId = newId();
    const jobs = Array.from({ length: 20 }, () => entry());
    const ordinals = await Promise.all(jobs.map((j) => indexJob(deps, clientId, j)));
    expect([...ordinals].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect((await readJobIndexHead(deps.jsm, clientId))?.head.n).toBe(20);
    for (const [i, j] of jobs.entries()) expect(await readJobIndexEntry(deps.jsm, clientId, ordinals[i]!)).toEqual(j);
    // Another client counts from 1.
    expect(await indexJob(deps, newId(), entry())).toBe(1);
  });

  it("does not index a job twice: not while it holds the head, nor by its Msg-Id inside the window", async () => {
    const clientId = newId();
    const a = entry();
    expect(await indexJob(deps, clientId, a)).toBe(1);
    expect(await indexJob(deps, clientId, a)).toBe(1);
    expect(await indexJob(deps, clientId, entry("sleep"))).toBe(2);
    // a again, with b at the head: a new ordinal whose entry is a duplicate, so a gap.
    expect(await indexJob(deps, clientId, a)).toBe(3);
    expect(await readJobIndexEntry(deps.jsm, clientId, 3)).toBeNull();
    expect(await readJobIndexEntry(deps.jsm, clientId, 1)).toEqual(a);
  });

  it("after a crash between the head and the entry, the job that holds the head gets its entry on a retry", async () => {
    const clientId = newId();
    const a = entry();
    // The head taken for a, as a crashed submit leaves it: no entry.
    await deps.js.publish(jobIndexHeadSubject(clientId), JSON.stringify({ n: 1, jobId: a.jobId }));
    expect(await readJobIndexEntry(deps.jsm, clientId, 1)).toBeNull();
    expect(await indexJob(deps, clientId, a)).toBe(1);
    expect(await readJobIndexEntry(deps.jsm, clientId, 1)).toEqual(a);
  });
});
