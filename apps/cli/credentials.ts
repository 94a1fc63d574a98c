import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import type { ClientIdentity } from "../../libs/client/mod.ts";

/** What `herald login` keeps, per server URL, in the user's config directory. */
interface CredentialsFile {
  /** The server used when neither --url nor HERALD_URL says otherwise: the last one logged in to. */
  defaultUrl?: string;
  servers: Record<string, ClientIdentity>;
}

/** `$XDG_CONFIG_HOME/herald/credentials.json` (default `~/.config/herald/credentials.json`), mode 0600. */
export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(homedir(), ".config");
  return path.join(base, "herald", "credentials.json");
}

function read(file: string): CredentialsFile {
  try {
    const parsed = JSON.parse(readFileSync(file, "utf8")) as CredentialsFile;
    return { ...parsed, servers: parsed.servers ?? {} };
  } catch {
    return { servers: {} };
  }
}

export function loadCredentials(url: string, file = credentialsPath()): ClientIdentity | null {
  return read(file).servers[url] ?? null;
}

export function defaultUrl(file = credentialsPath()): string | undefined {
  return read(file).defaultUrl;
}

export function saveCredentials(url: string, identity: ClientIdentity, file = credentialsPath()): void {
  const data = read(file);
  data.servers[url] = identity;
  data.defaultUrl = url;
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600); // also when the file existed with looser permissions
}
