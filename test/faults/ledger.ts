import { SseClient } from "../helpers/sse.ts";

const TERMINAL = new Set(["job.succeeded", "job.failed", "job.canceled"]);

/** A pool of base URLs with the ones known dead taken out: what a load balancer with health checks does. */
export class Balancer {
  #urls: string[] = [];
  #dead = new Set<string>();
  #next = 0;

  set(urls: string[]): void {
    this.#urls = [...urls];
    this.#dead.clear();
  }
  add(url: string): void {
    this.#urls.push(url);
  }
  markDead(url: string | null): void {
    if (url) this.#dead.add(url);
  }
  pick(): string {
    const alive = this.#urls.filter((u) => !this.#dead.has(u));
    if (alive.length === 0) throw new Error("no live instance");
    return alive[this.#next++ % alive.length]!;
  }
}

interface LoadClient {
  clientId: string;
  token: string;
  sse: SseClient;
  accepted: Set<string>;
}

export interface LedgerTotals {
  fault: string;
  accepted: number;
  terminal: number;
  lost: number;
  duplicated: number;
  outOfOrder: number;
  /** 503 answers seen while submitting (retried with the same Idempotency-Key). */
  unavailable: number;
  /** Median and slowest of those 503 answers, in ms. A request caught in flight by the outage
   *  waits for its publish timeout (5 s); the ones that arrive during it are answered at once. */
  median503Ms: number;
  slowest503Ms: number;
  /** Submits that got no answer within 30 s (a hang): must be 0. */
  hung: number;
  /** (out of order counts events below an earlier event of the same job: a broken per-job order.) */
  /** Event streams refused with 503 (the notifier had no NATS, or shed load); each came back. */
  refused: number;
}

/**
 * The fault suite's bookkeeping. Clients hold an SSE stream each (through the notifier balancer)
 * and submit jobs through the API balancer, retrying 503s and network errors with the same
 * Idempotency-Key; every 202 is recorded. Then: every accepted job must have exactly one terminal
 * event seen by its client over SSE, and each client's ids must only grow (no duplicate, no reorder).
 */
export class Ledger {
  readonly fault: string;
  readonly clients: LoadClient[] = [];
  #latencies503: number[] = [];
  #hung = 0;

  constructor(fault: string) {
    this.fault = fault;
  }

  async addClients(n: number, api: Balancer, notifiers: Balancer): Promise<void> {
    for (let i = 0; i < n; i++) {
      const res = await this.#request(api, "/v1/clients", { method: "POST" });
      const { clientId, token } = (await res.json()) as { clientId: string; token: string };
      const sse = new SseClient({
        token,
        baseUrl: () => notifiers.pick(),
        path: "/v1/events",
        lastEventId: "earliest",
      });
      this.clients.push({ clientId, token, sse, accepted: new Set() });
    }
    await Promise.all(this.clients.map((c) => c.sse.waitFor((s) => s.opens >= 1, 10_000, "first connection")));
  }

  /** Submits `jobs` jobs on a fixed schedule (open loop), round-robin over the clients. */
  async submit(
    api: Balancer,
    jobs: number,
    intervalMs: number,
    job: (i: number) => { type: string; payload: unknown; [field: string]: unknown },
  ): Promise<void> {
    const pending: Promise<void>[] = [];
    for (let i = 0; i < jobs; i++) {
      const client = this.clients[i % this.clients.length]!;
      pending.push(this.#submitOne(api, client, `${this.fault.replace(/\W+/g, "-")}-${i}`, job(i)));
      await new Promise((r) => setTimeout(r, intervalMs));
    }
    await Promise.all(pending);
  }

  async #submitOne(
    api: Balancer,
    client: LoadClient,
    key: string,
    body: { type: string; payload: unknown; [field: string]: unknown },
  ): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const started = Date.now();
      try {
        const res = await this.#request(api, "/v1/jobs", {
          method: "POST",
          headers: {
            authorization: `Bearer ${client.token}`,
            "content-type": "application/json",
            "idempotency-key": key,
          },
          body: JSON.stringify(body),
        });
        if (res.status === 202) {
          client.accepted.add(((await res.json()) as { jobId: string }).jobId);
          return;
        }
        const text = await res.text();
        if (res.status !== 503) throw new Error(`POST /v1/jobs: ${res.status} ${text}`);
        this.#latencies503.push(Date.now() - started);
      } catch (err) {
        if ((err as Error).message.startsWith("POST /v1/jobs")) throw err;
        if ((err as Error).message.includes("aborted due to timeout")) this.#hung++;
        // connection refused / reset: the instance is gone; the balancer sends the retry elsewhere
      }
      if (Date.now() > deadline) throw new Error(`job ${key} not accepted within 60 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async #request(api: Balancer, path: string, init: RequestInit): Promise<Response> {
    const url = api.pick();
    try {
      return await fetch(`${url}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      throw new Error(`request to ${url} failed: ${(err as Error).message}`);
    }
  }

  /** Waits (bounded) until every accepted job's terminal event has reached its client. */
  async settle(timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.totals().lost === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  totals(): LedgerTotals {
    let accepted = 0;
    let terminal = 0;
    let lost = 0;
    let duplicated = 0;
    let outOfOrder = 0;
    for (const c of this.clients) {
      const seen = new Set<number>();
      // Ids only increase on a client's stream, across all its jobs (the notifier's live feed hands
      // events out in RESULTS order), whatever reconnects happen.
      let lastId = 0;
      const terminals = new Map<string, number>();
      for (const e of c.sse.events) {
        const id = Number(e.id);
        const jobId = (JSON.parse(e.data) as { jobId: string }).jobId;
        if (seen.has(id)) duplicated++;
        else if (id < lastId) outOfOrder++;
        seen.add(id);
        lastId = Math.max(lastId, id);
        if (TERMINAL.has(e.event)) terminals.set(jobId, (terminals.get(jobId) ?? 0) + 1);
      }
      for (const jobId of c.accepted) {
        accepted++;
        const n = terminals.get(jobId) ?? 0;
        if (n === 0) lost++;
        else terminal++;
        if (n > 1) duplicated += n - 1;
      }
    }
    const sorted = [...this.#latencies503].sort((a, b) => a - b);
    return {
      fault: this.fault,
      accepted,
      terminal,
      lost,
      duplicated,
      outOfOrder,
      unavailable: sorted.length,
      median503Ms: sorted[Math.floor(sorted.length / 2)] ?? 0,
      slowest503Ms: sorted.at(-1) ?? 0,
      hung: this.#hung,
      refused: this.clients.reduce((n, c) => n + c.sse.refusals.length, 0),
    };
  }

  close(): void {
    for (const c of this.clients) c.sse.close();
  }
}

export function printLedger(rows: LedgerTotals[]): void {
  const header =
    "| fault | accepted | terminal | lost | duplicated | out of order | 503s (median / slowest ms) | hung | streams refused (503) |";
  const lines = rows.map(
    (r) =>
      `| ${r.fault} | ${r.accepted} | ${r.terminal} | ${r.lost} | ${r.duplicated} | ${r.outOfOrder} | ${r.unavailable} (${r.median503Ms} / ${r.slowest503Ms}) | ${r.hung} | ${r.refused} |`,
  );
  process.stdout.write(`\nfault ledger\n${header}\n|---|---|---|---|---|---|---|---|---|\n${lines.join("\n")}\n\n`);
}
