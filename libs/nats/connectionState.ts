import type { NatsConnection } from "@nats-io/transport-node";
import {
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
} from "@nats-io/transport-node";
import { JetStreamError, JetStreamApiError } from "@nats-io/jetstream";
import type { Logger } from "pino";

export type ConnectionEvent = "disconnected" | "reconnected";

/**
 * Whether this app's NATS connection is up right now, and a hook for when that changes. The API
 * answers 503 at once while it is down (instead of letting requests hang), and the notifier ends
 * its streams on a disconnect so that clients resume (with a replay) once it is back.
 */
export class ConnectionState {
  #connected = true;
  #listeners = new Set<(e: ConnectionEvent) => void>();

  constructor(nc: NatsConnection, log: Logger) {
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === "disconnect" && this.#connected) {
          this.#connected = false;
          log.warn({ server: s.server }, "NATS disconnected");
          this.#emit("disconnected");
        } else if (s.type === "reconnect") {
          this.#connected = true;
          log.info({ server: s.server }, "NATS reconnected");
          this.#emit("reconnected");
        } else if (s.type === "error") {
          log.error({ err: s.error }, "NATS connection error");
        }
      }
      this.#connected = false; // closed for good
    })();
  }

  get connected(): boolean {
    return this.#connected;
  }

  onChange(listener: (e: ConnectionEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(e: ConnectionEvent): void {
    for (const l of this.#listeners) l(e);
  }
}

/**
 * True for errors that mean "NATS or JetStream is not answering right now" (timeouts, no
 * responders, a closed or reconnecting connection, a stream without a leader): the request was
 * fine, and may succeed later — a 503, not a 500.
 */
export function isNatsUnavailable(err: unknown): boolean {
  if (
    err instanceof TimeoutError ||
    err instanceof NoRespondersError ||
    err instanceof ConnectionError ||
    err instanceof ClosedConnectionError ||
    err instanceof DrainingConnectionError ||
    err instanceof RequestError
  ) {
    return true;
  }
  if (err instanceof JetStreamApiError) return err.status === 503;
  if (err instanceof JetStreamError) return true;
  const cause = (err as { cause?: unknown } | null)?.cause;
  return cause !== undefined && cause !== err && isNatsUnavailable(cause);
}
