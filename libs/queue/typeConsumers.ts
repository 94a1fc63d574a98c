import type { JetStreamManager } from "@nats-io/jetstream";
import { JOBS_STREAM, typeOfConsumer } from "../contracts/mod.ts";

/** One capped job type's consumer on JOBS, as JetStream reports it now. */
export interface TypeConsumerState {
  type: string;
  /** `workers-<type>`. */
  consumer: string;
  /** Its max_ack_pending: how many of the type's jobs may be held by workers at once. */
  concurrency: number;
  /** Held by workers now (num_ack_pending): running, or waiting out a retry backoff. */
  inFlight: number;
  /** Queued, not yet delivered (num_pending): what the cap holds back. */
  queued: number;
}

/**
 * Every `workers-<type>` consumer on JOBS, by type name, in one JetStream request (a consumer
 * list). Workers read it to find which capped consumers to pull from, and for /metrics;
 * `herald inspect` shows it (docs/design.md, "Concurrency per type").
 */
export async function listTypeConsumers(jsm: JetStreamManager): Promise<TypeConsumerState[]> {
  const found: TypeConsumerState[] = [];
  for await (const info of jsm.consumers.list(JOBS_STREAM)) {
    const type = typeOfConsumer(info.name);
    if (type === null) continue;
    found.push({
      type,
      consumer: info.name,
      concurrency: info.config.max_ack_pending ?? -1,
      inFlight: info.num_ack_pending,
      queued: info.num_pending,
    });
  }
  return found.sort((a, b) => a.type.localeCompare(b.type));
}
