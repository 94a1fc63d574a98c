import net from "node:net";
import { expect, it } from "vitest";
import { freePort } from "./freePort.ts";

it("gives a loopback port that can be listened on", async () => {
  const port = await freePort();
  expect(port).toBeGreaterThan(0);
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.listen(port, "127.0.0.1", () => resolve());
  });
  await new Promise((r) => s.close(r));
});
