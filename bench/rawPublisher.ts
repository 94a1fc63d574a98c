/**
 * One raw JetStream publisher process for scenario 3 (forked by bench/raw.ts), so that the
 * publishing client's own CPU can be spread over more than one process. Waits for "go", publishes
 * for the given time with K awaited publishes in flight, replies with its count and latencies.
 */
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { Latency, type LatencySummary } from "./hist.ts";

export interface PublisherReply {
  type: "done";
  published: number;
  latency: LatencySummary;
  cpuS: number;
}

const natsUrl = process.env.BENCH_NATS_URL!;
const k = Number(process.env.BENCH_INFLIGHT);
const bytes = Number(process.env.BENCH_MSG_BYTES);
const durationMs = Number(process.env.BENCH_DURATION_MS);
const prefix = process.env.BENCH_SUBJECT_PREFIX!;

const nc = await connect({ servers: natsUrl, name: "herald-bench-raw-publisher" });
const js = jetstream(nc);
const payload = new TextEncoder().encode("x".repeat(bytes));
for (let i = 0; i < 200; i++) await js.publish(`${prefix}.w.${i}`, payload);
process.on("disconnect", () => process.exit(0));
process.once("message", async () => {
  const latency = new Latency();
  const cpu0 = process.cpuUsage();
  let published = 0;
  const end = performance.now() + durationMs;
  await Promise.all(
    Array.from({ length: k }, async (_, w) => {
      for (let n = 0; performance.now() < end; n++) {
        const t = performance.now();
        await js.publish(`${prefix}.${w}.${n}`, payload);
        latency.recordMs(performance.now() - t);
        published++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  const reply: PublisherReply = {
    type: "done",
    published,
    latency: latency.summary(),
    cpuS: (cpu.user + cpu.system) / 1e6,
  };
  process.send!(reply, () => {
    void nc.close().finally(() => process.exit(0));
  });
});
process.send!({ type: "ready" });
