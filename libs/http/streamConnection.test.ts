import net from "node:net";
import type { ServerResponse } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { createLogger } from "../log/mod.ts";
import { createHttpServer } from "./mod.ts";
import { shedIdleStreamState } from "./streamConnection.ts";

const log = createLogger({ level: "silent", name: "stream-connection-test" });
const settle = () => new Promise((r) => setImmediate(r));

interface Served {
  res: ServerResponse;
  closed: Promise<void>;
}

/** A server whose /stream answers with an event stream's head and a first frame, then sheds. */
async function start(): Promise<{ app: FastifyInstance; port: number; served: Promise<Served>[] }> {
  const app = createHttpServer({ log, config: { bodyLimitBytes: 1024, trustProxy: false, corsOrigins: [] } });
  const served: Promise<Served>[] = [];
  const waiting: Array<(s: Served) => void> = [];
  for (let i = 0; i < 4; i++) served.push(new Promise((r) => waiting.push(r)));
  app.get("/stream", async (_request, reply) => {
    const res = reply.raw;
    const closed = new Promise<void>((r) => res.once("close", () => r()));
    res.setHeader("content-type", "text/event-stream");
    res.writeHead(200);
    res.write("retry: 1000\n\n");
    shedIdleStreamState(reply);
    waiting.shift()!({ res, closed });
  });
  app.get("/plain", async () => ({ ok: true }));
  await app.listen({ host: "127.0.0.1", port: 0 });
  return { app, port: (app.server.address() as net.AddressInfo).port, served };
}

/** A raw client: what it received, and when the server ended the connection. */
function connect(port: number, request: string) {
  const socket = net.connect(port, "127.0.0.1");
  let received = "";
  socket.on("data", (c: Buffer) => (received += c.toString("utf8")));
  socket.on("error", () => undefined);
  const ended = new Promise<void>((r) => socket.once("close", () => r()));
  socket.write(request);
  return { socket, received: () => received, ended };
}

const GET_STREAM =
  "GET /stream HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\nAuthorization: Bearer secret-token\r\n\r\n";

let app: FastifyInstance | null = null;
afterEach(async () => {
  await app?.close();
  app = null;
});

describe("shedIdleStreamState", () => {
  it("frees the connection's parser and what the request no longer needs; the stream goes on", async () => {
    const s = await start();
    app = s.app;
    const c = connect(s.port, GET_STREAM);
    const { res } = await s.served[0]!;
    await settle();
    const socket = res.socket as net.Socket & { parser?: unknown };
    expect(socket.parser).toBeNull();
    expect(res.req.headers).toEqual({});
    expect(res.req.rawHeaders).toEqual([]);
    expect(res.req.headersDistinct).toEqual({});
    expect(res.getHeaders()).toEqual({});
    expect(res.headersSent).toBe(true);

    res.write("data: after\n\n");
    await expect.poll(() => c.received()).toContain("data: after\n\n");
    expect(c.received()).toMatch(/^HTTP\/1\.1 200 /);
    // The parser went back to Node's pool: the next connection is served as usual.
    const res2 = await fetch(`http://127.0.0.1:${s.port}/plain`);
    expect(await res2.json()).toEqual({ ok: true });
    c.socket.destroy();
  });

  it("a client that goes away closes the response", async () => {
    const s = await start();
    app = s.app;
    const c = connect(s.port, GET_STREAM);
    const { res, closed } = await s.served[0]!;
    await settle();
    expect((res.socket as unknown as { parser: unknown }).parser).toBeNull();
    c.socket.destroy();
    await closed;
  });

  it("a client that half-closes is answered by this side ending too, as Node does", async () => {
    const s = await start();
    app = s.app;
    const c = connect(s.port, GET_STREAM);
    const { closed } = await s.served[0]!;
    await settle();
    c.socket.end();
    await closed;
    await c.ended;
  });

  it("a client sending more bytes on the stream's connection is disconnected (an empty line is ignored)", async () => {
    const s = await start();
    app = s.app;
    const c = connect(s.port, GET_STREAM);
    const { res, closed } = await s.served[0]!;
    await settle();
    c.socket.write("\r\n");
    await new Promise((r) => setTimeout(r, 50));
    expect(res.socket?.destroyed).toBe(false);
    c.socket.write("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
    await closed;
    await c.ended;
  });

  it("the stream's end closes its connection (nothing could read a next request on it)", async () => {
    const s = await start();
    app = s.app;
    const c = connect(s.port, GET_STREAM);
    const { res } = await s.served[0]!;
    await settle();
    res.end();
    await c.ended;
    expect(c.received()).toMatch(/retry: 1000\n\n[\s\S]*0\r\n\r\n$/);
  });

  it("leaves the parser of a request whose body has not all come", async () => {
    const s = await start();
    app = s.app;
    const c = connect(s.port, "GET /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n12345");
    const { res } = await s.served[0]!;
    await settle();
    expect((res.socket as unknown as { parser: unknown }).parser).not.toBeNull();
    expect(res.req.headers.host).toBe("x");
    c.socket.destroy();
  });
});
