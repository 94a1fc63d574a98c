import { build } from "esbuild";
import { cpSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const WEB_DIST = path.join(HERE, "dist");
/** What the bundle is made of: the page's files, its scripts, and the client library it bundles. */
export const WEB_SOURCES = [path.join(HERE, "public"), path.join(HERE, "src"), path.join(HERE, "..", "..", "libs", "client"), path.join(HERE, "..", "..", "libs", "contracts")];

/**
 * Builds the web page into apps/web/dist: the static files as they are, and src/main.ts (with the
 * client library) bundled for browsers by esbuild. `npm run build` runs it; the API runs it at
 * start when dist/ is missing.
 */
export async function buildWeb(outdir = WEB_DIST): Promise<void> {
  mkdirSync(outdir, { recursive: true });
  cpSync(path.join(HERE, "public"), outdir, { recursive: true });
  await build({
    entryPoints: [path.join(HERE, "src", "main.ts")],
    outfile: path.join(outdir, "app.js"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    minify: true,
    sourcemap: true,
    logLevel: "warning",
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await buildWeb();
  process.stdout.write(`built ${WEB_DIST}\n`);
}
