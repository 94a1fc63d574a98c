import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { assertSupportedServer } from "./serverVersion.ts";

/**
 * The nats-server `npm run setup` chose for this checkout: the one on PATH when it is recent
 * enough, else Debian's current package unpacked into the project (scripts/nats-server.sh).
 */
export const PROJECT_NATS_SERVER = fileURLToPath(new URL("../../.tools/bin/nats-server", import.meta.url));

export class NatsServerNotFoundError extends Error {
  constructor(bin: string) {
    super(
      `nats-server not found (tried ${JSON.stringify(bin)}). Install it with \`npm run setup\` ` +
        "(it fetches the current release into .tools/), or install nats-server 2.10.14 or newer " +
        "(macOS `brew install nats-server`, or a release from https://github.com/nats-io/nats-server/releases) " +
        "and set NATS_SERVER_BIN.",
    );
    this.name = "NatsServerNotFoundError";
  }
}

/** `nats-server --version` of `bin` ("2.15.1"), or null when it cannot be run. */
export function natsServerVersion(bin: string): string | null {
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) return null;
  return (r.stdout || r.stderr).trim().replace(/^nats-server:\s*v?/, "");
}

export interface NatsServerBinary {
  bin: string;
  version: string;
}

/**
 * The nats-server to run, checked against the supported floor. `requested` (NATS_SERVER_BIN) is
 * used as given; without it: the project's own (.tools/bin, set up by `npm run setup`), then
 * `nats-server` on PATH, then Debian's /usr/sbin/nats-server (outside an ordinary user's PATH).
 * Throws NatsServerNotFoundError, or NatsServerTooOldError naming the version found.
 */
export function findNatsServer(requested?: string): NatsServerBinary {
  const candidates = requested ? [requested] : [PROJECT_NATS_SERVER, "nats-server", "/usr/sbin/nats-server"];
  for (const bin of candidates) {
    const version = natsServerVersion(bin);
    if (version === null) continue;
    assertSupportedServer(version, bin);
    return { bin, version };
  }
  throw new NatsServerNotFoundError(requested ?? "nats-server");
}

/** findNatsServer for NATS_SERVER_BIN of this process's environment (tests, bench, scripts). */
export function natsServerFromEnv(): NatsServerBinary {
  return findNatsServer(process.env.NATS_SERVER_BIN || undefined);
}
