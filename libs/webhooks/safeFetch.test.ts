import http from "node:http";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { postWebhook, WebhookNetworkError, WebhookTimeoutError } from "./safeFetch.ts";
import { type LookupAll, parseAllowHosts, type WebhookUrlPolicy, WebhookUrlRefusedError } from "./urlPolicy.ts";

function policy(allowHosts: string, allowHttp = true): WebhookUrlPolicy {
  const list = parseAllowHosts(allowHosts);
  if (typeof list === "string") throw new Error(list);
  return { allowHttp, allowHosts: list };
}

/** HTTP to 127.0.0.1 allowed: what every test that means to reach its server uses. */
const LOOPBACK_OK = policy("127.0.0.1");

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface TestServer {
  port: number;
  /** Every TCP connection accepted, whether or not a request came on it. */
  connections: number;
  requests: Received[];
  /** The server's side of each connection, to see when the client hangs up. */
  sockets: net.Socket[];
  close(): Promise<void>;
}

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A real HTTP server on 127.0.0.1; `handle` answers (or does not) once the request body is in. */
async function serve(handle: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<TestServer> {
  const server = http.createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (c: string) => (body += c));
    req.on("end", () => {
      state.requests.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
      handle(req, res);
    });
  });
  server.on("connection", (socket) => {
    state.connections++;
    state.sockets.push(socket);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const state: TestServer = {
    port: (server.address() as net.AddressInfo).port,
    connections: 0,
    requests: [],
    sockets: [],
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  servers.push(state);
  return state;
}

/** A port with nothing listening: one that was listened on, then closed. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** A resolver that answers every name with 127.0.0.1, as a rebinding DNS server would. */
const rebindToLoopback: LookupAll = async () => [{ address: "127.0.0.1", family: 4 }];

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error("expected an error");
}

const post = (url: string, extra: Partial<Parameters<typeof postWebhook>[1]> = {}) =>
  postWebhook(new URL(url), { body: '{"event":"job.completed"}', headers: {}, policy: LOOPBACK_OK, ...extra });

describe("postWebhook", () => {
  it("POSTs the body with herald's headers and the caller's, and returns a 200 with an excerpt", async () => {
    const server = await serve((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end("thanks!"));
    const got = await post(`http://127.0.0.1:${server.port}/hooks/herald?x=1`, {
      headers: { "X-Herald-Signature": "t=1,v1=abc" },
    });
    expect(got.status).toBe(200);
    expect(got.excerpt).toBe("thanks!");
    expect(got.bytesRead).toBe(7);
    expect(got.durationMs).toBeGreaterThanOrEqual(0);
    expect(server.requests).toHaveLength(1);
    const received = server.requests[0]!;
    expect(received.method).toBe("POST");
    expect(received.url).toBe("/hooks/herald?x=1");
    expect(received.body).toBe('{"event":"job.completed"}');
    expect(received.headers).toMatchObject({
      host: `127.0.0.1:${server.port}`,
      "content-type": "application/json",
      "user-agent": "herald-webhooks/1",
      "content-length": "25",
      "x-herald-signature": "t=1,v1=abc",
    });
  });

  it("the caller's content-type and user-agent win over the defaults, whatever their case", async () => {
    const server = await serve((_req, res) => res.end());
    await post(`http://127.0.0.1:${server.port}/`, {
      headers: { "Content-Type": "application/cloudevents+json", "User-Agent": "custom/2" },
    });
    expect(server.requests[0]!.headers["content-type"]).toBe("application/cloudevents+json");
    expect(server.requests[0]!.headers["user-agent"]).toBe("custom/2");
  });

  it("a 500 is a status, not an error; the excerpt is at most 256 characters", async () => {
    const server = await serve((_req, res) => res.writeHead(500).end("é".repeat(1000)));
    const got = await post(`http://127.0.0.1:${server.port}/`);
    expect(got.status).toBe(500);
    expect(got.excerpt).toBe("é".repeat(256));
    expect(got.bytesRead).toBe(2000);
  });

  it("a 302 is returned as it is, and its Location is not followed", async () => {
    const target = await serve((_req, res) => res.end("you should not be here"));
    const redirector = await serve((_req, res) =>
      res.writeHead(302, { location: `http://127.0.0.1:${target.port}/elsewhere` }).end(),
    );
    const got = await post(`http://127.0.0.1:${redirector.port}/`);
    expect(got.status).toBe(302);
    expect(redirector.requests).toHaveLength(1);
    expect(target.connections).toBe(0);
  });

  it("a receiver that never answers: WebhookTimeoutError, and the connection is dropped", async () => {
    const server = await serve(() => {});
    const err = await caught(post(`http://127.0.0.1:${server.port}/`, { timeoutMs: 300 }));
    expect(err).toBeInstanceOf(WebhookTimeoutError);
    expect(err).toMatchObject({ code: "webhook_timeout", timeoutMs: 300 });
    await expect.poll(() => server.sockets.every((s) => s.destroyed || s.readableEnded)).toBe(true);
  });

  it("the timeout covers the body too: headers and then silence is a WebhookTimeoutError", async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("just the start");
    });
    const err = await caught(post(`http://127.0.0.1:${server.port}/`, { timeoutMs: 300 }));
    expect(err).toBeInstanceOf(WebhookTimeoutError);
  });

  it("nothing listening: WebhookNetworkError ECONNREFUSED", async () => {
    const port = await closedPort();
    const err = await caught(post(`http://127.0.0.1:${port}/`));
    expect(err).toBeInstanceOf(WebhookNetworkError);
    expect(err).toMatchObject({ code: "webhook_network_error", reason: "ECONNREFUSED" });
  });

  it("a receiver that hangs up before answering: WebhookNetworkError ECONNRESET", async () => {
    const server = await serve((req) => req.socket.destroy());
    const err = await caught(post(`http://127.0.0.1:${server.port}/`));
    expect(err).toBeInstanceOf(WebhookNetworkError);
    expect(err).toMatchObject({ reason: "ECONNRESET" });
  });

  it("a body cut off before its end: WebhookNetworkError", async () => {
    const server = await serve((req, res) => {
      res.writeHead(200, { "content-length": "100" });
      res.write("only part", () => req.socket.destroy());
    });
    const err = await caught(post(`http://127.0.0.1:${server.port}/`));
    expect(err).toBeInstanceOf(WebhookNetworkError);
  });

  it("a DNS failure: WebhookNetworkError with the resolver's code", async () => {
    const lookup: LookupAll = async () => {
      throw Object.assign(new Error("getaddrinfo ENOTFOUND nowhere.test"), { code: "ENOTFOUND" });
    };
    const err = await caught(post("http://nowhere.test/", { lookup }));
    expect(err).toBeInstanceOf(WebhookNetworkError);
    expect(err).toMatchObject({ reason: "ENOTFOUND" });
  });

  it("a 1 MB body: at most 64 KiB is read, and the answer still comes back", async () => {
    const server = await serve((_req, res) => res.writeHead(200).end(Buffer.alloc(1 << 20, "a")));
    const got = await post(`http://127.0.0.1:${server.port}/`);
    expect(got.status).toBe(200);
    expect(got.bytesRead).toBeLessThanOrEqual(65_536);
    expect(got.bytesRead).toBe(65_536);
    expect(got.excerpt).toBe("a".repeat(256));
  });

  it("an endless body: reading stops at maxResponseBytes and the connection is dropped", async () => {
    let written = 0;
    const server = await serve((_req, res) => {
      res.writeHead(200);
      const chunk = Buffer.alloc(16_384, "z");
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) written += chunk.length;
        if (!res.destroyed) res.once("drain", pump);
      };
      pump();
    });
    const got = await post(`http://127.0.0.1:${server.port}/`, { maxResponseBytes: 1000, timeoutMs: 5_000 });
    expect(got).toMatchObject({ status: 200, bytesRead: 1000 });
    await expect.poll(() => server.sockets[0]!.destroyed).toBe(true);
    expect(written).toBeLessThan(16 << 20);
  });

  it("an IP literal the policy refuses is refused before any connection", async () => {
    const server = await serve((_req, res) => res.end());
    const err = await caught(post(`http://127.0.0.1:${server.port}/`, { policy: policy("") }));
    expect(err).toBeInstanceOf(WebhookUrlRefusedError);
    expect(err).toMatchObject({ reason: "loopback" });
    expect(server.connections).toBe(0);
  });

  it("http: is refused at send time when the policy no longer allows it", async () => {
    const server = await serve((_req, res) => res.end());
    const err = await caught(post(`http://127.0.0.1:${server.port}/`, { policy: policy("127.0.0.1", false) }));
    expect(err).toMatchObject({ reason: "scheme http: not allowed" });
    expect(server.connections).toBe(0);
  });

  it("DNS rebinding: a name that now resolves to 127.0.0.1 is refused at connect time, and nothing reaches the server", async () => {
    const server = await serve((_req, res) => res.end());
    const err = await caught(
      post(`http://rebind.test:${server.port}/`, { policy: policy("10.0.0.0/8"), lookup: rebindToLoopback }),
    );
    expect(err).toBeInstanceOf(WebhookUrlRefusedError);
    expect(err).toMatchObject({ code: "webhook_url_refused", reason: "loopback", address: "127.0.0.1" });
    expect(server.connections).toBe(0);
  });

  it("the connect-time check holds when Node asks for one address (autoSelectFamily off) as well as for all", async () => {
    const server = await serve((_req, res) => res.end());
    const before = net.getDefaultAutoSelectFamily();
    net.setDefaultAutoSelectFamily(false);
    try {
      const err = await caught(
        post(`http://rebind.test:${server.port}/`, { policy: policy(""), lookup: rebindToLoopback }),
      );
      expect(err).toMatchObject({ reason: "loopback" });
      expect(server.connections).toBe(0);
      const got = await post(`http://rebind.test:${server.port}/`, { lookup: rebindToLoopback });
      expect(got.status).toBe(200);
    } finally {
      net.setDefaultAutoSelectFamily(before);
    }
  });

  it("a name with one refused address among public ones is refused", async () => {
    const server = await serve((_req, res) => res.end());
    const lookup: LookupAll = async () => [
      { address: "127.0.0.1", family: 4 },
      { address: "93.184.216.34", family: 4 },
    ];
    const err = await caught(post(`http://mixed.test:${server.port}/`, { policy: policy(""), lookup }));
    expect(err).toMatchObject({ reason: "loopback" });
    expect(server.connections).toBe(0);
  });

  it("the same name succeeds when 127.0.0.1 is allowed, with the name (not the address) as Host", async () => {
    const server = await serve((_req, res) => res.end("ok"));
    const got = await post(`http://rebind.test:${server.port}/hook`, {
      policy: policy("127.0.0.1"),
      lookup: rebindToLoopback,
    });
    expect(got).toMatchObject({ status: 200, excerpt: "ok" });
    expect(server.requests[0]!.headers.host).toBe(`rebind.test:${server.port}`);
  });

  it("a name allowed by name is sent to whatever it resolves to", async () => {
    const server = await serve((_req, res) => res.end());
    const got = await post(`http://Receiver.Internal:${server.port}/`, {
      policy: policy("receiver.internal"),
      lookup: rebindToLoopback,
    });
    expect(got.status).toBe(200);
  });

  it("every request dials anew (no pooled connection skips the check)", async () => {
    const server = await serve((_req, res) => res.end());
    for (let i = 0; i < 3; i++) {
      await post(`http://rebind.test:${server.port}/`, { policy: policy("127.0.0.1"), lookup: rebindToLoopback });
    }
    expect(server.connections).toBe(3);
    const err = await caught(
      post(`http://rebind.test:${server.port}/`, { policy: policy(""), lookup: rebindToLoopback }),
    );
    expect(err).toBeInstanceOf(WebhookUrlRefusedError);
    expect(server.connections).toBe(3);
  });

  it("an aborted signal rejects with its reason and drops the connection", async () => {
    const server = await serve(() => {});
    const controller = new AbortController();
    const pending = post(`http://127.0.0.1:${server.port}/`, { signal: controller.signal });
    await expect.poll(() => server.requests.length).toBe(1);
    controller.abort(new Error("shutting down"));
    expect(await caught(pending)).toMatchObject({ message: "shutting down" });
    await expect.poll(() => server.sockets.every((s) => s.destroyed || s.readableEnded)).toBe(true);
  });
});
