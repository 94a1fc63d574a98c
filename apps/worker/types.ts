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

/** What an attempt's handler came to: its result, what it threw, or not run at all. */
export type HandlerRun = { ran: true; result: unknown } | { ran: true; error: unknown } | { ran: false };
