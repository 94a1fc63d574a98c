import { existsSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import type { FastifyPluginAsync } from "fastify";
import fastifyStatic from "@fastify/static";
import { buildWeb, WEB_DIST, WEB_SOURCES } from "./build.ts";

/** True when apps/web/dist is missing or older than any of the page's sources. */
function needsBuild(): boolean {
  const built = path.join(WEB_DIST, "app.js");
  if (!existsSync(built)) return true;
  const builtAt = statSync(built).mtimeMs;
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((e) =>
        e.isDirectory() ? newest(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).mtimeMs,
      ),
    );
  return WEB_SOURCES.some((dir) => newest(dir) > builtAt);
}

/**
 * Serves the web page's static files at `/`. `npm run build` builds them; a server that finds
 * them missing or older than their sources builds them first (in a temporary folder, moved into
 * place, so that two processes starting together never serve a half-written bundle).
 */
export const webPlugin: FastifyPluginAsync = async (app) => {
  if (needsBuild()) {
    const tmp = mkdtempSync(`${WEB_DIST}-`);
    await buildWeb(tmp);
    rmSync(WEB_DIST, { recursive: true, force: true });
    try {
      renameSync(tmp, WEB_DIST);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another process put its build there first
    }
  }
  await app.register(fastifyStatic, { root: WEB_DIST, index: "index.html", wildcard: false, cacheControl: true, maxAge: 0 });
};
