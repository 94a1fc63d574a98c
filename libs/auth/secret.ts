import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import path from "node:path";
import type { Logger } from "pino";

/**
 * One-process mode only: a TOKEN_SECRET generated once and kept in `<dataDir>/token-secret`
 * (mode 0600), so tokens survive restarts on a laptop without any set-up. Deployed apps must be
 * given TOKEN_SECRET, shared by every api and notifier instance.
 */
export function loadOrCreateTokenSecret(dataDir: string, log: Logger): string {
  const file = path.join(dataDir, "token-secret");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(48).toString("base64url");
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  log.warn({ file }, "TOKEN_SECRET not set: generated one for this machine; set TOKEN_SECRET in production");
  return secret;
}
