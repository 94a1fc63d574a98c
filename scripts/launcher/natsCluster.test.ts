import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { startCluster, waitForJetStream, type ClusterNode } from "./natsCluster.ts";

const dir = mkdtempSync(path.join(tmpdir(), "herald-launcher-cluster-"));
let nodes: ClusterNode[] = [];

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  rmSync(dir, { recursive: true, force: true });
});

it("starts the 3-node cluster; a node killed comes back on its ports and store, and JetStream answers through it", async () => {
  nodes = await startCluster(dir);
  expect(new Set(nodes.map((n) => n.clientPort)).size).toBe(3);
  await waitForJetStream(nodes.map((n) => n.url));

  const victim = nodes[0]!;
  const pid = victim.server!.pid;
  victim.kill();
  expect(victim.server).toBeNull();
  await victim.start();
  expect(victim.server!.pid).not.toBe(pid);
  expect(victim.server!.port).toBe(victim.clientPort);
  await waitForJetStream([victim.url]);
}, 90_000);

it("waitForJetStream gives up when its check throws", async () => {
  await expect(
    waitForJetStream([nodes[0]!.url], () => {
      throw new Error("stopping");
    }),
  ).rejects.toThrow("stopping");
});
