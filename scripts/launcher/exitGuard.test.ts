import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";

/** Running, as opposed to gone or a zombie waiting to be reaped. */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

it("a nats-server started through the launcher dies with the process that started it, even one that exits without stopping it", async () => {
  const storeDir = mkdtempSync(path.join(tmpdir(), "herald-launcher-guard-"));
  const natsServer = fileURLToPath(new URL("./natsServer.ts", import.meta.url));
  // A process that starts a server (in a process group of its own) and exits at once, cleaning nothing up.
  const script = `const { startNatsServer } = await import(${JSON.stringify(natsServer)});
const s = await startNatsServer({ storeDir: ${JSON.stringify(storeDir)} });
process.stdout.write(String(s.pid));
process.exit(0);`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 30_000,
  });
  expect(r.status, r.stderr).toBe(0);
  const pid = Number(r.stdout.trim());
  expect(pid).toBeGreaterThan(0);
  try {
    const deadline = Date.now() + 5_000;
    while (running(pid) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    expect(running(pid)).toBe(false);
  } finally {
    if (running(pid)) process.kill(pid, "SIGKILL"); // the guard failed: do not leave it behind
    rmSync(storeDir, { recursive: true, force: true });
  }
}, 40_000);
