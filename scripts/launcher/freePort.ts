import net from "node:net";

/**
 * A loopback port free at the moment of asking. For what must be known before a process starts
 * (cluster routes, an upstream nginx points at, an app whose log level hides its listening line);
 * otherwise let the process pick its own port (PORT=0), which has no window for another to take it.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
