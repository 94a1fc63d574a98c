/**
 * Job types for the fault suite only (loaded with WORKER_JOBS): never in a real deployment,
 * since `crash` lets a client kill the worker that runs it.
 */
import { defineJob, Type } from "../../libs/jobs/mod.ts";

export const crash = defineJob({
  name: "crash",
  description: "Kills the worker process that runs it (SIGKILL): a job that crashes every attempt.",
  schema: Type.Object({}),
  async run() {
    process.kill(process.pid, "SIGKILL");
    await new Promise(() => undefined);
  },
});

export default [crash];
