/**
 * Scenario 3: the ceiling. Raw JetStream publishes (js.publish, each awaited, K at a time) of a
 * job event's size into a file-stored stream on the same nats-server herald used, one new subject
 * per message as herald's RESULTS has (results.<clientId>.<jobId>).
 */
import { connect } from "@nats-io/transport-node";
import { DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { Latency, type LatencySummary } from "./hist.ts";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CpuMeter, round, track } from "./procs.ts";
import type { PublisherReply } from "./rawPublisher.ts";

export interface RawVariant {
  /** Publishes in flight, in all. */
  concurrency: number;
  /** Publishing processes (1: this one). */
  processes: number;
}

export interface RawResult {
  concurrency: number;
  processes: number;
  msgBytes: number;
  durationS: number;
  published: number;
  msgsPerS: number;
  /** Publish → ack, per message. */
  latency: LatencySummary;
  cpu: Record<string, number>;
}

const STREAM = "BENCH_RAW";

export async function rawPublish(o: {
  natsUrl: string;
  natsPid: number;
  msgBytes: number;
  variants: RawVariant[];
  durationS: number;
}): Promise<RawResult[]> {
  const nc = await connect({ servers: o.natsUrl, name: "herald-bench-raw" });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const out: RawResult[] = [];
  try {
    await jsm.streams.add({
      name: STREAM,
      subjects: ["benchraw.>"],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      num_replicas: 1,
      duplicate_window: 120_000_000_000, // as RESULTS
    });
    // A JSON body of the size of a stored job event.
    const filler = "x".repeat(Math.max(0, o.msgBytes - 40));
    const payload = new TextEncoder().encode(
      JSON.stringify({ event: "succeeded", result: filler }).slice(0, o.msgBytes).padEnd(o.msgBytes, " "),
    );
    for (const { concurrency: k, processes } of o.variants) {
      if (processes > 1) {
        out.push(await publishFromProcesses({ ...o, k, processes, bytes: payload.length }));
        await jsm.streams.purge(STREAM);
        continue;
      }
      // Warm-up, not measured.
      for (let i = 0; i < 200; i++) await js.publish(`benchraw.w.${i}`, payload);
      const latency = new Latency();
      const cpu = new CpuMeter({ "nats-server": o.natsPid });
      let published = 0;
      const t0 = performance.now();
      const end = t0 + o.durationS * 1000;
      await Promise.all(
        Array.from({ length: k }, async (_, w) => {
          for (let n = 0; performance.now() < end; n++) {
            const t = performance.now();
            await js.publish(`benchraw.${k}.${w}.${n}`, payload);
            latency.recordMs(performance.now() - t);
            published++;
          }
        }),
      );
      const wall = (performance.now() - t0) / 1000;
      out.push({
        concurrency: k,
        processes: 1,
        msgBytes: payload.length,
        durationS: round(wall, 2),
        published,
        msgsPerS: Math.round(published / wall),
        latency: latency.summary(),
        cpu: cpu.read(),
      });
      latency.destroy();
      await jsm.streams.purge(STREAM);
    }
  } finally {
    await jsm.streams.delete(STREAM).catch(() => undefined);
    await nc.close();
  }
  return out;
}

/** The same, from several processes (bench/rawPublisher.ts), K / processes in flight each. */
async function publishFromProcesses(o: {
  natsUrl: string;
  natsPid: number;
  k: number;
  processes: number;
  bytes: number;
  durationS: number;
}): Promise<RawResult> {
  const children = Array.from({ length: o.processes }, (_, p) => {
    const child = fork(fileURLToPath(new URL("./rawPublisher.ts", import.meta.url)), [], {
      execArgv: ["--import", "tsx"],
      env: {
        ...process.env,
        BENCH_NATS_URL: o.natsUrl,
        BENCH_INFLIGHT: String(Math.max(1, Math.round(o.k / o.processes))),
        BENCH_MSG_BYTES: String(o.bytes),
        BENCH_DURATION_MS: String(o.durationS * 1000),
        BENCH_SUBJECT_PREFIX: `benchraw.p${p}`,
      },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    const untrack = track({
      name: `rawPublisher ${child.pid}`,
      stop: async () => {
        child.kill("SIGKILL");
        await exited;
      },
    });
    const message = (type: string, timeoutMs: number) =>
      new Promise<PublisherReply | { type: "ready" }>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`raw publisher: no ${type} in ${timeoutMs} ms`)), timeoutMs);
        const on = (m: { type: string }) => {
          if (m.type !== type) return;
          clearTimeout(t);
          child.off("message", on);
          resolve(m as PublisherReply);
        };
        child.on("message", on);
        void exited.then(() => reject(new Error("raw publisher exited early")));
      });
    return { child, exited, untrack, message };
  });
  try {
    await Promise.all(children.map((c) => c.message("ready", 60_000)));
    const cpu = new CpuMeter({
      "nats-server": o.natsPid,
      ...Object.fromEntries(children.map((c, p) => [`publisher${p}`, c.child.pid!])),
    });
    const t0 = performance.now();
    const done = children.map((c) => c.message("done", o.durationS * 1000 + 60_000) as Promise<PublisherReply>);
    for (const c of children) c.child.send({ type: "go" });
    const replies = await Promise.all(done);
    const wall = (performance.now() - t0) / 1000;
    const published = replies.reduce((s, r) => s + r.published, 0);
    const worst = (f: (l: PublisherReply["latency"]) => number) => Math.max(...replies.map((r) => f(r.latency)));
    const c = cpu.read();
    return {
      concurrency: o.k,
      processes: o.processes,
      msgBytes: o.bytes,
      durationS: round(wall, 2),
      published,
      msgsPerS: Math.round(published / wall),
      latency: {
        count: published,
        p50: worst((l) => l.p50),
        p90: worst((l) => l.p90),
        p99: worst((l) => l.p99),
        p999: worst((l) => l.p999),
        max: worst((l) => l.max),
        mean: worst((l) => l.mean),
      },
      cpu: {
        "nats-server": c["nats-server"]!,
        publishers: children.reduce((s, _c, p) => s + (c[`publisher${p}`] ?? 0), 0),
        generator: c.generator!,
        others: c.others!,
        steal: c.steal!,
      },
    };
  } finally {
    for (const c of children) {
      const t = setTimeout(() => c.child.kill("SIGKILL"), 5_000);
      await c.exited;
      clearTimeout(t);
      c.untrack();
    }
  }
}
