/**
 * A load process for scenario 4 (forked by bench/connections.ts): holds thousands of idle SSE
 * streams on the notifier, each its own client (its own token), from several loopback source
 * addresses, and records the heartbeats they get. Driven over IPC; exits when its parent goes.
 */
import { createTokens } from "../libs/auth/mod.ts";
import { SseConnection } from "./sse.ts";
import { serveLoadCommands } from "./loadProc.ts";

export type LoadCommand =
  | { type: "prepare"; count: number }
  | { type: "open"; count: number; inflight: number }
  | { type: "mark" }
  | { type: "stats" }
  | { type: "close" };

export type LoadReply =
  | { type: "ready" }
  | { type: "prepared"; ms: number }
  | { type: "opened"; ok: number; failed: number; ms: number; reasons: Record<string, number> }
  | { type: "marked" }
  | { type: "stats"; stats: LoadStats }
  | { type: "closed" };

export interface LoadStats {
  open: number;
  dropped: number;
  /** Connections that got at least one / two heartbeats since the mark. */
  withHeartbeat: number;
  withTwoHeartbeats: number;
  /** Largest interval between two heartbeats of one connection since the mark (ms). */
  maxGapMs: number;
  /** Mean interval between two heartbeats since the mark (ms). */
  meanGapMs: number;
  cpuS: number;
  rssMB: number;
}

interface Conn {
  sse: SseConnection;
  hb: number;
  last: number;
  maxGap: number;
}

const url = process.env.BENCH_NOTIFIER_URL!;
const index = Number(process.env.BENCH_LOAD_INDEX);
const addresses = (process.env.BENCH_LOCAL_ADDRESSES ?? "").split(",").filter(Boolean);
const tokens = createTokens([process.env.TOKEN_SECRET!], 3 * 3600_000);
const conns: Conn[] = [];
const minted: string[] = [];
let dropped = 0;
let gapSum = 0;
let gapCount = 0;

function reply(r: LoadReply): void {
  process.send!(r);
}

function closeAll(): void {
  for (const c of conns) c.sse.close();
}

async function open(count: number, inflight: number): Promise<void> {
  const t0 = performance.now();
  let ok = 0;
  let failed = 0;
  const reasons: Record<string, number> = {};
  let started = 0;
  await new Promise<void>((resolve) => {
    let active = 0;
    const startOne = () => {
      while (active < inflight && started < count) {
        const n = conns.length;
        started++;
        active++;
        let settled = false;
        const conn: Conn = { sse: undefined as unknown as SseConnection, hb: 0, last: 0, maxGap: 0 };
        const settle = (good: boolean, reason?: string) => {
          if (settled) return;
          settled = true;
          active--;
          if (good) ok++;
          else {
            failed++;
            reasons[reason ?? "?"] = (reasons[reason ?? "?"] ?? 0) + 1;
          }
          if (ok + failed >= count) resolve();
          else startOne();
        };
        conn.sse = new SseConnection(
          {
            url: `${url}/v1/events`,
            token: minted[n] ?? minted[n % minted.length]!,
            ...(addresses.length ? { localAddress: addresses[n % addresses.length]! } : {}),
          },
          {
            onReady: () => settle(true),
            onComment: () => {
              const now = performance.now();
              if (conn.hb > 0) {
                const gap = now - conn.last;
                if (gap > conn.maxGap) conn.maxGap = gap;
                gapSum += gap;
                gapCount++;
              }
              conn.hb++;
              conn.last = now;
            },
            onClose: (reason) => {
              if (settled) dropped++;
              settle(false, reason);
            },
          },
        );
        conns.push(conn);
      }
    };
    if (count <= 0) resolve();
    else startOne();
  });
  reply({ type: "opened", ok, failed, ms: performance.now() - t0, reasons });
}

serveLoadCommands<LoadCommand>(closeAll, (m) => {
  switch (m.type) {
    case "prepare": {
      const t0 = performance.now();
      void (async () => {
        for (let i = minted.length; i < m.count; i++) minted.push((await tokens.mint(`bench-l${index}-${i}`)).token);
        reply({ type: "prepared", ms: performance.now() - t0 });
      })();
      break;
    }
    case "open":
      void open(m.count, m.inflight);
      break;
    case "mark":
      for (const c of conns) {
        c.hb = 0;
        c.maxGap = 0;
      }
      gapSum = 0;
      gapCount = 0;
      reply({ type: "marked" });
      break;
    case "stats": {
      let open = 0;
      let withHeartbeat = 0;
      let withTwo = 0;
      let maxGap = 0;
      for (const c of conns) {
        if (!c.sse.closed) open++;
        if (c.hb >= 1) withHeartbeat++;
        if (c.hb >= 2) withTwo++;
        if (c.maxGap > maxGap) maxGap = c.maxGap;
      }
      const cpu = process.cpuUsage();
      reply({
        type: "stats",
        stats: {
          open,
          dropped,
          withHeartbeat,
          withTwoHeartbeats: withTwo,
          maxGapMs: Math.round(maxGap),
          meanGapMs: gapCount ? Math.round(gapSum / gapCount) : 0,
          cpuS: (cpu.user + cpu.system) / 1e6,
          rssMB: Math.round(process.memoryUsage().rss / 1024 / 1024),
        },
      });
      break;
    }
  }
});
