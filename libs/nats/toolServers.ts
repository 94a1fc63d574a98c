import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { DEFAULT_NATS_URL } from "./defaultServer.ts";

/**
 * Where operator tools (herald inspect, npm run dlq) find NATS: NATS_URL, else the one-process
 * mode's own server (it writes its URL to DATA_DIR/nats-url), else the default local server.
 */
export function serversForTools(config: { natsServers: string[]; dataDir: string }): string[] {
  if (config.natsServers.length) return config.natsServers;
  const file = path.join(config.dataDir, "nats-url");
  if (existsSync(file)) return [readFileSync(file, "utf8").trim()];
  return [DEFAULT_NATS_URL];
}
