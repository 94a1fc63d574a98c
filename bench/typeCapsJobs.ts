/**
 * The job types of bench/typeCaps.ts: a WORKER_JOBS module (docs/job-types.md) that the bench's
 * api and both its workers load. `capped` waits `ms` milliseconds, at most 4 at once across all
 * workers; the built-in `echo` is the uncapped type beside it, and `uncapped` is `capped` without
 * the cap (to fill the workers' slots).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { defineJob, Type } from "../libs/jobs/mod.ts";

export const capped = defineJob({
  name: "capped",
  description: "Waits `ms` milliseconds; at most 4 run at once across all workers (bench/typeCaps.ts).",
  schema: Type.Object({ ms: Type.Integer({ minimum: 0, maximum: 60_000 }) }, { additionalProperties: false }),
  example: { ms: 50 },
  concurrency: 4,
  async run(ctx) {
    // Rejects at once when the signal fires (a cancel, a shutdown, a time limit).
    await sleep(ctx.payload.ms, undefined, { signal: ctx.signal });
    return { sleptMs: ctx.payload.ms };
  },
});

export const uncapped = defineJob({
  name: "uncapped",
  description: "Waits `ms` milliseconds, without a cap (bench/typeCaps.ts).",
  schema: capped.schema,
  example: { ms: 50 },
  async run(ctx) {
    await sleep(ctx.payload.ms, undefined, { signal: ctx.signal });
    return { sleptMs: ctx.payload.ms };
  },
});

export default [capped, uncapped];
