import type { NatsConnection } from "@nats-io/transport-node";
import type { JetStreamManager } from "@nats-io/jetstream";
import { liveJobSubject, type JobEvent, type JobMessage } from "../../libs/contracts/mod.ts";
import { readJobNow } from "../../libs/results/mod.ts";

/**
 * How long a job runs before its worker starts listening for a cancel. Most jobs (an echo, a
 * hash) end well before this: for them a subscription per job was two extra writes to NATS
 * (SUB, UNSUB) of about five per job, measured as the worker's largest cost (bench --cpu-prof).
 * A cancel of a job that ends sooner still wins: the job's next write is fenced on the stored
 * `canceled` event and is refused (the attempt then acks, and the job stays `canceled`).
 */
export const CANCEL_WATCH_AFTER_MS = 200;

export interface CancelWatch {
  stop(): void;
}

/**
 * Calls `onCancel` once the job's `canceled` event is stored (the API stores it; RESULTS
 * republishes it on the job's live subject), so that a running handler is aborted at once.
 *
 * Started after `afterMs`. So that a cancel stored before the subscription is not missed, the
 * subscription is confirmed by the server first (flush), then the job's last event is read:
 * a cancel stored before that read is in it, one stored after reaches the subscription.
 * The design: docs/design.md, "Cancel".
 */
export function watchForCancel(
  deps: { nc: NatsConnection; jsm: JetStreamManager },
  job: Pick<JobMessage, "clientId" | "jobId">,
  onCancel: () => void,
  afterMs = CANCEL_WATCH_AFTER_MS,
): CancelWatch {
  let stopped = false;
  let unsubscribe: (() => void) | null = null;
  const start = async () => {
    if (stopped) return;
    const sub = deps.nc.subscribe(liveJobSubject(job.clientId, job.jobId), {
      callback: (_err, m) => {
        try {
          if (m.json<JobEvent>().event === "canceled") onCancel();
        } catch {
          // not an envelope: ignore
        }
      },
    });
    unsubscribe = () => sub.unsubscribe();
    try {
      await deps.nc.flush();
      if (stopped) return;
      const last = await readJobNow(deps.jsm, job.clientId, job.jobId);
      if (!stopped && last?.event.event === "canceled") onCancel();
    } catch {
      // NATS trouble: the subscription (restored on reconnect) and the fence still stop the job.
    }
  };
  const timer = setTimeout(() => void start(), afterMs);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      unsubscribe?.();
    },
  };
}
