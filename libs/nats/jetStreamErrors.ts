import { JetStreamApiError } from "@nats-io/jetstream";

/**
 * The JetStream API error codes herald acts on, named once (nats-server's errors.json). Each names
 * an answer that is not a failure for the caller: a lost fence, a race to create, a full queue.
 */
export const JetStreamErrorCode = {
  /** A stream or consumer lookup: none by that name (provisioning then creates it). */
  CONSUMER_NOT_FOUND: 10014,
  STREAM_NOT_FOUND: 10059,
  /** Another app created the stream in the same moment (provisioning then updates it). */
  STREAM_NAME_IN_USE: 10058,
  /** Another app created the consumer, with another config, in the same moment (provisioning then updates it). */
  CONSUMER_ALREADY_EXISTS: 10148,
  /**
   * An expected-last-sequence check failed: another write came first. RESULTS' fencing, and a
   * KV create/update on a revision (idempotency claims).
   */
  WRONG_LAST_SEQUENCE: 10071,
  /** A stream with discard `new` refused a message at max_msgs or max_msgs_per_subject (JOBS full). */
  MAXIMUM_MESSAGES_EXCEEDED: 10077,
} as const;

export type JetStreamErrorCode = (typeof JetStreamErrorCode)[keyof typeof JetStreamErrorCode];

/** True when `err` is the JetStream API's answer with this code. */
export function isJetStreamError(err: unknown, code: JetStreamErrorCode): err is JetStreamApiError {
  return err instanceof JetStreamApiError && err.code === code;
}
