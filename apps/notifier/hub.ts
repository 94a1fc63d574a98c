import type { EventStream, StreamEnd } from "./eventStream.ts";

/** The event streams this notifier instance is serving: counted, and ended together on shutdown. */
export class Hub {
  #streams = new Set<EventStream>();

  get size(): number {
    return this.#streams.size;
  }

  /** Runs a stream to its end while it is counted here. */
  async serve(stream: EventStream): Promise<StreamEnd> {
    this.#streams.add(stream);
    try {
      return await stream.run();
    } finally {
      this.#streams.delete(stream);
    }
  }

  /** Ends every stream (clients reconnect, to this instance or another, and resume). */
  closeAll(reason: StreamEnd = "shutdown"): void {
    for (const s of this.#streams) s.end(reason);
  }
}
