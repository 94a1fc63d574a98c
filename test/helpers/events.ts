import type { JetStreamClient } from "@nats-io/jetstream";
import type { JobEvent } from "../../libs/contracts/mod.ts";
import { newId } from "../../libs/ids/mod.ts";
import { appendEvent, type StoredEvent } from "../../libs/results/mod.ts";

/** A job's `queued` event, complete, for a test to store or to derive the job's later events from. */
export function queuedEvent(fields: Partial<JobEvent> = {}): JobEvent {
  return {
    jobId: newId(),
    clientId: newId(),
    type: "echo",
    event: "queued",
    attempt: 0,
    progress: null,
    result: null,
    error: null,
    at: new Date().toISOString(),
    ...fields,
  };
}

/** A job with `queued`, `started` and `succeeded` stored in RESULTS; returns them with their sequences. */
export async function storeEndedJob(
  js: JetStreamClient,
  clientId = newId(),
): Promise<{ clientId: string; jobId: string; events: StoredEvent[] }> {
  const queued = queuedEvent({ clientId });
  const started: JobEvent = { ...queued, event: "started", attempt: 1 };
  const succeeded: JobEvent = { ...started, event: "succeeded", result: "done" };
  const q = await appendEvent(js, queued, 0);
  const s = await appendEvent(js, started, q);
  const e = await appendEvent(js, succeeded, s);
  return {
    clientId,
    jobId: queued.jobId,
    events: [
      { seq: q, event: queued },
      { seq: s, event: started },
      { seq: e, event: succeeded },
    ],
  };
}
