import type { JobMessage } from "../../libs/contracts/mod.ts";
import type { Metrics } from "../../libs/metrics/mod.ts";

/**
 * Counts a job this worker ended, with how long its last attempt ran (from `startedAt`) and how
 * long its client waited for it (from its submission).
 */
export function recordJobEnd(
  metrics: Metrics,
  job: JobMessage,
  outcome: "succeeded" | "failed",
  startedAt: number,
): void {
  const now = Date.now();
  metrics.jobsFinished.inc({ type: job.type, outcome });
  metrics.jobRunSeconds.observe({ type: job.type }, (now - startedAt) / 1000);
  const submitted = Date.parse(job.submittedAt);
  if (Number.isFinite(submitted)) metrics.jobLatencySeconds.observe({ type: job.type }, (now - submitted) / 1000);
}
