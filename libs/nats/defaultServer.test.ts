import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_NATS_URL, serversOrDefault } from "./defaultServer.ts";
import { serversForTools } from "./toolServers.ts";

describe("the default NATS server", () => {
  it("is a local nats-server on its default port, used when NATS_URL is not set", () => {
    expect(DEFAULT_NATS_URL).toBe("nats://127.0.0.1:4222");
    expect(serversOrDefault({ natsServers: [] })).toEqual([DEFAULT_NATS_URL]);
    expect(serversOrDefault({ natsServers: ["nats://a:4222", "nats://b:4222"] })).toEqual([
      "nats://a:4222",
      "nats://b:4222",
    ]);
  });

  it("is the tools' last resort, after NATS_URL and the one-process mode's own server", () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "herald-tools-"));
    try {
      expect(serversForTools({ natsServers: [], dataDir })).toEqual([DEFAULT_NATS_URL]);
      writeFileSync(path.join(dataDir, "nats-url"), "nats://127.0.0.1:40001\n");
      expect(serversForTools({ natsServers: [], dataDir })).toEqual(["nats://127.0.0.1:40001"]);
      expect(serversForTools({ natsServers: ["nats://a:4222"], dataDir })).toEqual(["nats://a:4222"]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
