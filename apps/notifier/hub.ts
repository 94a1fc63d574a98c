import type { EventStream, StreamEnd } from "./eventStream.ts";

/**
 * Heartbeats go out in this many slices of the interval, a slice of the streams at a time: each
 * stream still gets one every interval, and 19,000 of them are not all written in one tick (at
 * 2 s, ~1,200 writes every 125 ms rather than 19,000 at once).
 */
const HEARTBEAT_SLICES = 16;

/** A draining notifier ends a slice of its streams this often. */
const DRAIN_TICK_MS = 100;

/**
 * The event streams this notifier instance is serving: counted, and ended together on shutdown.
 * The design: docs/design.md, "Heartbeats and retry", "Drain".
 */
export class Hub {
  #streams = new Set<EventStream>();
  #perClient = new Map<string, number>();
  #nextSlot = 0;

  get size(): number {
    return this.#streams.size;
  }

  /** Streams open for one client on this instance. */
  streamsOf(clientId: string): number {
    return this.#perClient.get(clientId) ?? 0;
  }

  /**
   * Starts a stream and counts it here until it ends; `done` is called then, once it is no longer
   * counted. Resolves once the stream is under way (see EventStream.start), not when it ends: an
   * idle stream keeps no suspended function or pending promise. `done` is given the stream, so that
   * one function serves every stream: a closure per stream (here and in the caller) cost ~0.2 KB of
   * heap per idle stream.
   */
  serve(stream: EventStream, done?: (end: StreamEnd, stream: EventStream) => void): Promise<void> {
    this.#streams.add(stream);
    this.#perClient.set(stream.clientId, this.streamsOf(stream.clientId) + 1);
    stream.heartbeatSlot = this.#nextSlot++ % HEARTBEAT_SLICES;
    stream.hubDone = done;
    return stream.start(this.#ended);
  }

  /** Every stream's end, one function for all of them. */
  readonly #ended = (end: StreamEnd, stream: EventStream): void => {
    this.#streams.delete(stream);
    const left = this.streamsOf(stream.clientId) - 1;
    if (left > 0) this.#perClient.set(stream.clientId, left);
    else this.#perClient.delete(stream.clientId);
    stream.hubDone?.(end, stream);
  };

  /**
   * Sends every stream a heartbeat comment each `intervalMs`, from one timer for all of them (a
   * timer per connection cost ~0.3 KB of heap each). Ticks are scheduled from a fixed start, so
   * the interval does not drift by the time the writes take. Returns the function that stops it.
   */
  startHeartbeats(intervalMs: number): () => void {
    if (!(intervalMs > 0)) return () => undefined;
    const tickMs = intervalMs / HEARTBEAT_SLICES;
    const t0 = performance.now();
    let tick = 0;
    let timer: NodeJS.Timeout;
    const beat = () => {
      const slot = tick % HEARTBEAT_SLICES;
      for (const s of this.#streams) if (s.heartbeatSlot === slot) s.heartbeat();
      tick++;
      timer = setTimeout(beat, Math.max(0, t0 + (tick + 1) * tickMs - performance.now()));
      timer.unref();
    };
    timer = setTimeout(beat, tickMs);
    timer.unref();
    return () => clearTimeout(timer);
  }

  /**
   * Ends every stream over `windowMs`, a slice every DRAIN_TICK_MS, each with a last `retry:` drawn
   * from [0, lastRetryMs]: a notifier that is stopping (a deploy) hands its clients to the others at
   * a steady rate instead of all at once. Resolves when the last slice has ended. Streams that open
   * meanwhile (none should: the server turns new requests away while draining) end in the last.
   */
  async drain(windowMs: number, lastRetryMs: number): Promise<void> {
    const streams = [...this.#streams];
    const slices = Math.min(streams.length, Math.max(1, Math.floor(windowMs / DRAIN_TICK_MS)));
    const t0 = performance.now();
    for (let i = 0; i < slices; i++) {
      // Slice i is due at t0 + i × window / slices: from a fixed start, so the time ending a slice
      // takes (19,000 streams: ~40 ms a slice) does not stretch the window.
      const wait = t0 + (i * windowMs) / slices - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const end = Math.floor(((i + 1) * streams.length) / slices);
      for (let k = Math.floor((i * streams.length) / slices); k < end; k++)
        streams[k]!.leave(Math.floor(Math.random() * (lastRetryMs + 1)));
    }
    for (const s of this.#streams) s.leave(lastRetryMs);
  }
}
