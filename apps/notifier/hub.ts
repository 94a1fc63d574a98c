import type { EventStream, StreamEnd } from "./eventStream.ts";

/** The event streams this notifier instance is serving: counted, and ended together on shutdown. */
export class Hub {
  #streams = new Set<EventStream>();
  #perClient = new Map<string, number>();

  get size(): number {
    return this.#streams.size;
  }

  /** Streams open for one client on this instance. */
  streamsOf(clientId: string): number {
    return this.#perClient.get(clientId) ?? 0;
  }

  /** Runs a stream to its end while it is counted here. */
  async serve(stream: EventStream): Promise<StreamEnd> {
    this.#streams.add(stream);
    this.#perClient.set(stream.clientId, this.streamsOf(stream.clientId) + 1);
    try {
      return await stream.run();
    } finally {
      this.#streams.delete(stream);
      const left = this.streamsOf(stream.clientId) - 1;
      if (left > 0) this.#perClient.set(stream.clientId, left);
      else this.#perClient.delete(stream.clientId);
    }
  }

  /** Asks every stream to resync over the last `windowMs` (see EventStream.resync). */
  resyncAll(windowMs: number): void {
    for (const s of this.#streams) void s.resync(windowMs);
  }

  /** Ends every stream (clients reconnect, to this instance or another, and resume). */
  closeAll(reason: StreamEnd = "shutdown"): void {
    for (const s of this.#streams) s.end(reason);
  }
}
