import { afterEach, describe, expect, it } from "vitest";
import { request, type IncomingMessage } from "node:http";
import Fastify, { type FastifyInstance } from "fastify";
import { formatEventFrame, formatFrame, SseSink } from "./sseSink.ts";

describe("the SSE wire format", () => {
  it("writes every field that is set, retry: 0 and id: 0 included, and splits data into data: lines", () => {
    expect(formatFrame({ retry: 0 })).toBe("retry: 0\n\n");
    expect(formatFrame({ id: "0", event: "gap", data: '{"a":1}' })).toBe('id: 0\nevent: gap\ndata: {"a":1}\n\n');
    expect(formatFrame({ data: "one\r\ntwo\rthree\nfour" })).toBe("data: one\ndata: two\ndata: three\ndata: four\n\n");
  });

  it("an event frame: its sequence as id, job.<event> as event, the envelope as data; a line break in it splits it as any frame", () => {
    const json = '{"event":"progress","jobId":"j"}';
    expect(formatEventFrame(42, "progress", json)).toBe(`id: 42\nevent: job.progress\ndata: ${json}\n\n`);
    const broken = '{"event":"progress",\n"jobId":"j"}';
    expect(formatEventFrame(43, "progress", broken)).toBe(
      'id: 43\nevent: job.progress\ndata: {"event":"progress",\ndata: "jobId":"j"}\n\n',
    );
    expect(formatEventFrame(43, "progress", broken)).toBe(
      formatFrame({ id: "43", event: "job.progress", data: broken }),
    );
  });
});

describe("SseSink over a real HTTP response", () => {
  let app: FastifyInstance | null = null;
  afterEach(async () => {
    await app?.close();
    app = null;
  });

  /** A server whose one route hands its response to an SseSink, as the notifier does. */
  async function serve() {
    const opened: { sink: SseSink; gone: string[] }[] = [];
    app = Fastify();
    app.get("/stream", async (_request, reply) => {
      const sink = new SseSink(reply);
      const gone: string[] = [];
      sink.onGone({ end: (reason) => gone.push(reason) });
      sink.heartbeat(); // the head is not out yet: nothing is written
      reply.header("x-extra", "kept");
      await sink.send({ retry: 1500 });
      opened.push({ sink, gone });
    });
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    return { url, opened };
  }

  async function readUntil(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    text: { value: string },
    done: (t: string) => boolean,
  ) {
    const decoder = new TextDecoder();
    while (!done(text.value)) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text.value += decoder.decode(chunk.value, { stream: true });
    }
  }

  it("sends the SSE headers with the first frame, then events and heartbeats as written; close ends the response", async () => {
    const { url, opened } = await serve();
    const res = await fetch(`${url}/stream`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    expect(res.headers.get("cache-control")).toBe("no-cache");
    expect(res.headers.get("x-accel-buffering")).toBe("no");
    expect(res.headers.get("x-extra")).toBe("kept");
    const reader = res.body!.getReader();
    const text = { value: "" };
    await readUntil(reader, text, (t) => t.includes("retry: 1500\n\n"));
    const { sink, gone } = opened[0]!;
    sink.heartbeat();
    expect(sink.writeEvent(7, "progress", '{"event":"progress","note":"héllo €"}')).toBe(true);
    await sink.send({ event: "gap", data: '{"reason":"expired"}' });
    sink.close();
    await readUntil(reader, text, () => false); // to the end of the response
    expect(text.value).toBe(
      'retry: 1500\n\n: heartbeat\n\nid: 7\nevent: job.progress\ndata: {"event":"progress","note":"héllo €"}\n\nevent: gap\ndata: {"reason":"expired"}\n\n',
    );
    expect(gone).toEqual(["client_closed"]);
  });

  it("tells its stream once when the client goes away, and writes nothing after", async () => {
    const { url, opened } = await serve();
    // A client that drops its connection (a closed tab): the socket is destroyed.
    const req = request(`${url}/stream`);
    const res = await new Promise<IncomingMessage>((resolve) => req.on("response", resolve).end());
    await new Promise((resolve) => res.once("data", resolve));
    req.destroy();
    const { sink, gone } = opened[0]!;
    await expect.poll(() => gone.length, { timeout: 5_000 }).toBe(1);
    expect(gone).toEqual(["client_closed"]);
    expect(sink.writeEvent(8, "progress", "{}")).toBe(true); // gone: nothing to wait for
    sink.heartbeat();
    sink.close();
    expect(gone).toEqual(["client_closed"]);
  });
});
