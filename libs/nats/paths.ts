import { fileURLToPath } from "node:url";
import path from "node:path";

/** The repository's `nats/` folder: server configs and the JSON stream/consumer definitions. */
export const NATS_DEFINITIONS_DIR = fileURLToPath(new URL("../../nats/", import.meta.url));

export function definitionPath(...parts: string[]): string {
  return path.join(NATS_DEFINITIONS_DIR, ...parts);
}
