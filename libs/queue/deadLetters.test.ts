import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { newId } from "../ids/mod.ts";
import { DLQ_STREAM, JOBS_STREAM, type DeadLetter } from "../contracts/mod.ts";
import { startProvisionedNats, type ProvisionedNats } from "../../test/helpers/nats.ts";
import { listDeadLetters, publishDeadLetter, resubmitDeadLetters } from "./deadLetters.ts";
import { createJobRegistry } from "../jobs/mod.ts";

let nats: ProvisionedNats;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
const execFileAsync = promisify(execFile);
const registry = createJobRegistry();

beforeAll(async () => {
  nats = await startProvisionedNats("dead-letters-test");
  ({ nc, js, jsm } = nats);
});
afterAll(() => nats?.close());

/** Stores `n` dead letters straight into JOBS_DLQ (no job ran); returns their job ids, oldest first. */
async function storeDeadLetters(n: number): Promise<string[]> {
  const clientId = newId();
  const letters: DeadLetter[] = Array.from({ length: n }, (_, i) => ({
    job: { jobId: newId(), clientId, type: "echo", payload: { i }, submittedAt: new Date().toISOString() },
    attempts: 3,
    error: { code: "handler_error", message: `failure ${i}` },
    failedAt: new Date().toISOString(),
  }));
  for (let i = 0; i < n; i += 200) await Promise.all(letters.slice(i, i + 200).map((l) => publishDeadLetter(js, l)));
  return letters.map((l) => l.job.jobId);
}

/** Counts the message reads of JOBS_DLQ while `body` runs. */
async function countDeadLetterReads(body: () => Promise<void>): Promise<number> {
  let reads = 0;
  const sub = nc.subscribe(`$JS.API.STREAM.MSG.GET.${DLQ_STREAM}`, { callback: () => void reads++ });
  await nc.flush();
  try {
    await body();
    await nc.flush();
  } finally {
    sub.unsubscribe();
  }
  return reads;
}

const messages = async (stream: string) => (await jsm.streams.info(stream)).state.messages;

describe("resubmitDeadLetters", () => {
  it("resubmits every dead letter, more than 1,000 of them, reading each once", async () => {
    await jsm.streams.purge(DLQ_STREAM);
    await jsm.streams.purge(JOBS_STREAM);
    const ids = await storeDeadLetters(1_050);
    const resubmitted: string[] = [];
    const reads = await countDeadLetterReads(async () => {
      for await (const outcome of resubmitDeadLetters({ js, jsm, registry })) {
        expect(outcome).not.toHaveProperty("error");
        resubmitted.push(outcome.from);
      }
    });
    expect(resubmitted).toEqual(ids);
    expect(await messages(DLQ_STREAM)).toBe(0);
    expect(await messages(JOBS_STREAM)).toBe(1_050);
    // One read per letter, and one that finds no more.
    expect(reads).toBeLessThanOrEqual(1_051);
  }, 30_000);

  it("resubmits a job with two dead letters once (a letter kept again after the duplicate window), and removes both", async () => {
    await jsm.streams.purge(DLQ_STREAM);
    await jsm.streams.purge(JOBS_STREAM);
    const [id] = await storeDeadLetters(1);
    const first = (await listDeadLetters(jsm))[0]!;
    // The same letter again without its Msg-Id: as if stored after the 2-minute window.
    const { seq: _seq, ...letter } = first;
    await js.publish(`dlq.${letter.job.type}`, JSON.stringify(letter));
    expect(await messages(DLQ_STREAM)).toBe(2);
    const outcomes = [];
    for await (const outcome of resubmitDeadLetters({ js, jsm, registry })) outcomes.push(outcome);
    expect(outcomes).toEqual([{ from: id, jobId: expect.any(String), eventId: expect.any(Number) }]);
    expect(await messages(DLQ_STREAM)).toBe(0);
    expect(await messages(JOBS_STREAM)).toBe(1);
  });

  it("resubmits the named ones only, and says which have no dead letter", async () => {
    await jsm.streams.purge(DLQ_STREAM);
    await jsm.streams.purge(JOBS_STREAM);
    const ids = await storeDeadLetters(5);
    const missing = newId();
    const outcomes = [];
    for await (const outcome of resubmitDeadLetters({ js, jsm, registry }, [ids[3]!, missing, ids[1]!]))
      outcomes.push(outcome);
    expect(outcomes).toEqual([
      { from: ids[3], jobId: expect.any(String), eventId: expect.any(Number) },
      { from: missing, error: expect.objectContaining({ code: "dead_letter_not_found" }) },
      { from: ids[1], jobId: expect.any(String), eventId: expect.any(Number) },
    ]);
    expect(await messages(DLQ_STREAM)).toBe(3);
    expect(await messages(JOBS_STREAM)).toBe(2);
  });
});

describe("npm run dlq (apps/dlq/main.ts), as an operator runs it", () => {
  const dlq = (...args: string[]) =>
    execFileAsync(process.execPath, ["--import", "tsx", "apps/dlq/main.ts", ...args], {
      env: { ...process.env, NATS_URL: nats.server.url },
      maxBuffer: 64 * 1024 * 1024,
    });

  it("lists every dead letter, more than 1,000, then resubmits them all", async () => {
    await jsm.streams.purge(DLQ_STREAM);
    await jsm.streams.purge(JOBS_STREAM);
    const ids = await storeDeadLetters(1_050);
    const listed = (await dlq("list", "--json")).stdout
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as DeadLetter).job.jobId);
    expect(listed).toEqual(ids);
    const resubmitted = (await dlq("resubmit", "--all")).stdout.trim().split("\n");
    expect(resubmitted).toHaveLength(1_050);
    expect(resubmitted[0]).toMatch(new RegExp(`^${ids[0]} resubmitted as \\S+$`));
    expect(await messages(DLQ_STREAM)).toBe(0);
    expect((await dlq("list")).stdout).toBe("no dead letters\n");
  }, 60_000);
});
