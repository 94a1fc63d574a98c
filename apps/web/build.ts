import { build } from "esbuild";
import { cpSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { WEB_DIST } from "./paths.ts";

const HERE = path.dirname(fileURLToPath(import.meta.url));

/**
 * Builds the web page into `outdir`: the static files as they are, and src/main.ts (with the
 * client library) bundled for browsers by esbuild.
 */
export async function buildWeb(outdir: string): Promise<void> {
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

/**
 * Builds the page into a temporary folder beside apps/web/dist, then moves it into place: a server
 * running meanwhile (or a second build) never serves a half-written bundle.
 */
export async function buildWebIntoDist(): Promise<void> {
  const tmp = mkdtempSync(`${WEB_DIST}-`);
  try {
    await buildWeb(tmp);
    rmSync(WEB_DIST, { recursive: true, force: true });
    renameSync(tmp, WEB_DIST);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

// `npm run build` (also run by `npm run setup`, before `npm test` and in the Dockerfile).
if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await buildWebIntoDist();
  process.stdout.write(`built ${WEB_DIST}\n`);
}
