import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Where `npm run build` puts the page, and where the web plugin serves it from. */
export const WEB_DIST = path.join(HERE, "dist");

/** What the page is built from: its static files, its scripts, and the libraries it bundles. */
export const WEB_SOURCES = [
  path.join(HERE, "public"),
  path.join(HERE, "src"),
  path.join(HERE, "..", "..", "libs", "client"),
  path.join(HERE, "..", "..", "libs", "contracts"),
];
