import { createHash } from "node:crypto";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { Type } from "@sinclair/typebox";
import { defineJob, PermanentJobError, type JobType } from "./types.ts";

/** Resolves after `ms`, or rejects with the signal's reason when it is aborted first. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export const echo = defineJob({
  name: "echo",
  description: "Returns its payload as the result.",
  schema: Type.Unknown(),
  example: { hello: "world" },
  async run(ctx) {
    return ctx.payload ?? null;
  },
});

export const sleepJob = defineJob({
  name: "sleep",
  description: "Waits `ms` milliseconds in `steps` steps, reporting progress at each step.",
  schema: Type.Object(
    {
      ms: Type.Integer({ minimum: 0, maximum: 3_600_000 }),
      steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000 })),
    },
    { additionalProperties: false },
  ),
  example: { ms: 5000, steps: 5 },
  async run(ctx) {
    const steps = ctx.payload.steps ?? 1;
    const stepMs = ctx.payload.ms / steps;
    for (let i = 1; i <= steps; i++) {
      await sleep(stepMs, ctx.signal);
      ctx.progress((i / steps) * 100, `step ${i} of ${steps}`);
    }
    return { sleptMs: ctx.payload.ms, steps };
  },
});

export const sha256 = defineJob({
  name: "sha256",
  description: "Hashes `data` `rounds` times (real CPU work), reporting progress every tenth.",
  schema: Type.Object(
    {
      data: Type.String({ maxLength: 65_536 }),
      rounds: Type.Optional(Type.Integer({ minimum: 1, maximum: 50_000_000 })),
    },
    { additionalProperties: false },
  ),
  example: { data: "hello", rounds: 1_000_000 },
  async run(ctx) {
    const rounds = ctx.payload.rounds ?? 1;
    // Work in slices and yield between them, so the worker can still send in-progress acks,
    // publish progress and notice a cancel while a long hash runs.
    const slice = Math.max(1, Math.min(10_000, Math.ceil(rounds / 10)));
    let digest = Buffer.from(ctx.payload.data, "utf8");
    for (let done = 0; done < rounds; ) {
      const end = Math.min(rounds, done + slice);
      for (; done < end; done++) digest = createHash("sha256").update(digest).digest();
      ctx.signal.throwIfAborted();
      ctx.progress((done / rounds) * 100, `${done} of ${rounds} rounds`);
      await yieldToLoop();
    }
    return { sha256: digest.toString("hex"), rounds };
  },
});

export const fail = defineJob({
  name: "fail",
  description: "Fails for good with `message` (no retries).",
  schema: Type.Object({ message: Type.Optional(Type.String({ maxLength: 1_000 })) }, { additionalProperties: false }),
  example: { message: "this job was meant to fail" },
  async run(ctx) {
    throw new PermanentJobError(ctx.payload.message ?? "this job was meant to fail", "job_failed");
  },
});

export const flaky = defineJob({
  name: "flaky",
  description: "Fails its first `failTimes` attempts, then succeeds (shows retries).",
  schema: Type.Object({ failTimes: Type.Integer({ minimum: 0, maximum: 100 }) }, { additionalProperties: false }),
  example: { failTimes: 2 },
  async run(ctx) {
    if (ctx.attempt <= ctx.payload.failTimes) {
      throw new Error(`flaky: planned failure ${ctx.attempt} of ${ctx.payload.failTimes}`);
    }
    return { succeededOnAttempt: ctx.attempt };
  },
});

export const BUILTIN_JOB_TYPES: readonly JobType[] = [echo, sleepJob, sha256, fail, flaky] as JobType[];
