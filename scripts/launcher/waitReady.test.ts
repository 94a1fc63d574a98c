import http from "node:http";
import { afterEach, expect, it } from "vitest";
import { waitReady } from "./waitReady.ts";

let server: http.Server | null = null;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

/** A loopback server that answers `path` 503 for the first `notReady` requests, then 200. */
async function serve(notReady: number): Promise<{ url: string; asked: () => number }> {
  let asked = 0;
  server = http.createServer((req, res) => {
    if (req.url !== "/readyz") return void res.writeHead(404).end();
    asked++;
    res.writeHead(asked > notReady ? 200 : 503).end();
  });
  await new Promise<void>((r) => server!.listen(0, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, asked: () => asked };
}

it("waits through 503s until /readyz answers 200", async () => {
  const s = await serve(3);
  await waitReady(s.url, { timeoutMs: 5_000 });
  expect(s.asked()).toBe(4);
});

it("gives up at once when the process is gone, showing its output", async () => {
  const s = await serve(Infinity);
  await expect(waitReady(s.url, { what: "api", alive: () => false, logs: () => "last words" })).rejects.toThrow(
    /api exited before it was ready:\nlast words/,
  );
  expect(s.asked()).toBe(1);
});

it("times out when never ready", async () => {
  const s = await serve(Infinity);
  await expect(waitReady(s.url, { what: "notifier", timeoutMs: 300 })).rejects.toThrow(/notifier not ready in 300 ms/);
});

it('resolves without waiting for 200 once another sign of readiness holds (a worker\'s "worker started")', async () => {
  const s = await serve(Infinity);
  let started = false;
  setTimeout(() => (started = true), 300);
  await waitReady(s.url, { timeoutMs: 5_000, readyBy: () => started });
  expect(s.asked()).toBeGreaterThan(0);
});
