import { HeraldError } from "../../libs/contracts/mod.ts";

/** Why a stream was turned away with a 503 (the `reason` label of herald_sse_shed_total). */
export type ShedReason = "nats_unavailable" | "overloaded";

/** A 503 for an event stream: the client should come back after `Retry-After` seconds. */
export class StreamShedError extends HeraldError {
  readonly reason: ShedReason;
  constructor(reason: ShedReason, retryAfterS: number) {
    super(
      503,
      reason === "nats_unavailable" ? "nats_unavailable" : "overloaded",
      reason === "nats_unavailable"
        ? "the notifier has no connection to NATS; try again after Retry-After"
        : "the notifier is resuming many streams at once; try again after Retry-After (your place is kept: resume with your last event id)",
      { "retry-after": String(retryAfterS) },
    );
    this.name = "StreamShedError";
    this.reason = reason;
  }
}

export interface AdmissionOptions {
  /** Resumes (streams that read RESULTS before going live) running at once. */
  concurrency: number;
  /** Resumes waiting for a slot, at most; one more is shed at once. */
  queue: number;
  /** How long a resume may wait for a slot before it is shed. */
  queueMs: number;
  /** Retry-After is drawn uniformly from [min, max] seconds: shed clients do not come back together. */
  retryAfterS: [number, number];
}

/**
 * Admission control for resumes. A resume costs NATS round trips (and a replay); thousands at once
 * (a notifier restart, a load balancer flip) would queue on the JetStream API that every part of
 * herald shares, and time out together. So at most `concurrency` run at once; the next `queue` wait
 * their turn, each for at most `queueMs`; the rest are turned away at once with 503 and a jittered
 * Retry-After. A shed client loses nothing: its next try resumes from its last event id.
 * The design: docs/design.md, "Admission and shedding".
 */
export class Admission {
  #o: AdmissionOptions;
  #running = 0;
  #waiting: Array<{ grant: () => void }> = [];

  constructor(o: AdmissionOptions) {
    this.#o = o;
  }

  get running(): number {
    return this.#running;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** A Retry-After for a shed client, in whole seconds (what HTTP allows), jittered. */
  retryAfter(): number {
    const [min, max] = this.#o.retryAfterS;
    return min + Math.floor(Math.random() * (max - min + 1));
  }

  /**
   * Waits for a slot; resolves with the function that frees it (call it once). Throws
   * StreamShedError when the queue is full or the wait runs out; a `gone` signal (the client
   * disconnected while waiting) gives the place up at once.
   */
  async acquire(gone: AbortSignal): Promise<() => void> {
    if (this.#running < this.#o.concurrency && this.#waiting.length === 0) return this.#take();
    if (this.#waiting.length >= this.#o.queue) throw new StreamShedError("overloaded", this.retryAfter());
    return new Promise<() => void>((resolve, reject) => {
      const entry = {
        grant: () => {
          cleanup();
          resolve(this.#take());
        },
      };
      const leave = (err: Error) => {
        cleanup();
        const i = this.#waiting.indexOf(entry);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(err);
      };
      const timer = setTimeout(() => leave(new StreamShedError("overloaded", this.retryAfter())), this.#o.queueMs);
      const onGone = () => leave(new Error("client gone while waiting"));
      const cleanup = () => {
        clearTimeout(timer);
        gone.removeEventListener("abort", onGone);
      };
      gone.addEventListener("abort", onGone, { once: true });
      this.#waiting.push(entry);
    });
  }

  #take(): () => void {
    this.#running++;
    let freed = false;
    return () => {
      if (freed) return;
      freed = true;
      this.#running--;
      const next = this.#waiting.shift();
      next?.grant();
    };
  }
}
