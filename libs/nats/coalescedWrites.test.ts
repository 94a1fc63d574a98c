import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { createLogger } from "../log/mod.ts";
import { startTestNats, type TestNats } from "../../test/helpers/nats.ts";
import { connectNats } from "./mod.ts";
import { CoalescingNodeTransport } from "./coalescedWrites.ts";

let server: TestNats;
let pub: NatsConnection;
let sub: NatsConnection;
const log = createLogger({ level: "silent" });

beforeAll(async () => {
  server = await startTestNats();
  pub = await connectNats({ servers: [server.url], name: "coalesce-pub", log });
  sub = await connectNats({ servers: [server.url], name: "coalesce-sub", log });
});
afterAll(async () => {
  await pub?.close();
  await sub?.close();
  await server?.close();
});

const transportOf = (nc: NatsConnection) => (nc as unknown as { protocol: { transport: unknown } }).protocol.transport;

describe("coalesced writes", () => {
  it("is the transport connectNats uses (fails if a nats.js upgrade bypasses it)", () => {
    expect(transportOf(pub)).toBeInstanceOf(CoalescingNodeTransport);
  });

  it("delivers everything, in order, whether sent in one turn of the event loop or across many", async () => {
    const got: string[] = [];
    const all = new Promise<void>((resolve) =>
      sub.subscribe("coalesce.>", {
        callback: (_err, m) => {
          got.push(m.string());
          if (got.length === 2_000) resolve();
        },
      }),
    );
    await sub.flush();
    for (let i = 0; i < 1_000; i++) pub.publish("coalesce.one-turn", `a${i}`);
    for (let i = 0; i < 1_000; i++)
      await new Promise<void>((r) =>
        setImmediate(() => {
          pub.publish("coalesce.many-turns", `b${i}`);
          r();
        }),
      );
    await all;
    expect(got).toEqual([
      ...Array.from({ length: 1_000 }, (_, i) => `a${i}`),
      ...Array.from({ length: 1_000 }, (_, i) => `b${i}`),
    ]);
  });

  it("sends a lone message at once: a request is answered with nothing else going on", async () => {
    const responder = sub.subscribe("coalesce.echo", { callback: (_err, m) => void m.respond(m.data) });
    await sub.flush();
    const reply = await pub.request("coalesce.echo", "ping", { timeout: 1_000 });
    expect(reply.string()).toBe("ping");
    responder.unsubscribe();
  });
});
