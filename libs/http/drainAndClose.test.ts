import net from "node:net";
import { describe, expect, it } from "vitest";
import { createLogger } from "../log/mod.ts";
import { createHttpServer, drainAndClose } from "./mod.ts";

const log = createLogger({ level: "silent", name: "drain-test" });

describe("drainAndClose", () => {
  it("a request in flight on a keep-alive connection gets its answer with Connection: close, and the server does not wait for the client to hang up", async () => {
    const app = createHttpServer({ log, config: { bodyLimitBytes: 1024, trustProxy: false, corsOrigins: [] } });
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let arrived!: () => void;
    const inFlight = new Promise<void>((r) => (arrived = r));
    app.post("/slow", async () => {
      arrived();
      await released;
      return { ok: true };
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    const { port } = app.server.address() as net.AddressInfo;

    // A client that keeps its connection open, as a keep-alive HTTP client pool does.
    const socket = net.connect(port, "127.0.0.1");
    await new Promise<void>((r) => socket.once("connect", () => r()));
    let received = "";
    socket.on("data", (c: Buffer) => (received += c.toString("utf8")));
    const endedByServer = new Promise<void>((r) => socket.once("end", () => r()));
    socket.write(
      "POST /slow HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    );
    await inFlight;

    const closed = drainAndClose(app);
    // The answer goes out once the server has stopped listening (and has closed its idle
    // connections): the case where nothing but the response itself can end this connection.
    await expect.poll(() => app.server.listening, { interval: 5 }).toBe(false);
    release();
    await endedByServer;
    await closed;
    const head = received.split("\r\n\r\n")[0]!;
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toMatch(/\r\nConnection: close(\r\n|$)/i);
    expect(received).toContain('{"ok":true}');
    socket.destroy();
  });
});
