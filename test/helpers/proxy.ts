import http from "node:http";

/**
 * A tiny reverse proxy on loopback, as nginx would be in front of herald: event streams go to
 * `eventsTarget()` (changeable, to move clients between notifiers), everything else to `apiTarget`.
 */
export async function startProxy(
  apiTarget: string,
  eventsTarget: () => string,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const isEvents = /^\/v1\/(events|jobs\/[^/?]+\/events)(\?|$)/.test(req.url ?? "");
    const target = new URL(req.url ?? "/", isEvents ? eventsTarget() : apiTarget);
    const upstream = http.request(target, { method: req.method, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "application/json" });
      res.end('{"error":{"code":"bad_gateway","message":"upstream unavailable"}}');
    });
    res.on("close", () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
