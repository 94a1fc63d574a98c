import type { JobEvent } from "../../libs/contracts/mod.ts";

/** How one delivery of a job ended: what runDelivery answers. */
export type DeliveryOutcome =
  | "succeeded"
  | "failed"
  | "retrying"
  | "canceled"
  | "already-ended"
  | "superseded"
  | "malformed"
  | "shutdown";

/** The job's last stored event, as far as this delivery knows: all an attempt needs of it. */
export interface LastEvent {
  seq: number;
  event: JobEvent["event"];
  attempt: number;
}
