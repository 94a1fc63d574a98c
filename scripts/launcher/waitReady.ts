export interface WaitReadyOptions {
  /** What to ask (default `/readyz`: NATS connected and streams present, as a load balancer sees it). */
  path?: string;
  timeoutMs?: number;
  /** The name in error messages. */
  what?: string;
  /** False once the process is gone: then waiting longer is pointless. */
  alive?: () => boolean;
  /** The process's output, whose tail an error message shows. */
  logs?: () => string;
  /** Another sign that the process is in service, checked before each request (a worker's "worker started"). */
  readyBy?: () => boolean;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resolves once `baseUrl` + `path` answers 2xx (or `readyBy()` holds); rejects when the process dies or time runs out. */
export async function waitReady(baseUrl: string, o: WaitReadyOptions = {}): Promise<void> {
  const {
    path = "/readyz",
    timeoutMs = 60_000,
    what = baseUrl,
    alive = () => true,
    logs = () => "",
    readyBy = () => false,
  } = o;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (readyBy()) return;
    try {
      const res = await fetch(`${baseUrl}${path}`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (!alive()) throw new Error(`${what} exited before it was ready:\n${logs().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`${what} not ready in ${timeoutMs} ms:\n${logs().slice(-3000)}`);
    await sleep(100);
  }
}
