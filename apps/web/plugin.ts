import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import type { FastifyPluginAsync } from "fastify";
import fastifyStatic from "@fastify/static";
import { errorBody } from "../../libs/http/mod.ts";
import { WEB_DIST, WEB_SOURCES } from "./paths.ts";

export interface WebPluginOptions {
  /** The built page (default apps/web/dist, what `npm run build` writes). */
  dist?: string;
  /** What it is built from: a page older than any of these gets a warning (default: the page's sources). */
  sources?: string[];
}

export const WEB_PAGE_NOT_BUILT = "the web page is not built: run `npm run build` (or `npm run setup`), then restart";

/**
 * Serves the web page's static files at `/`. The page is built by `npm run build`, never here: a
 * server starts fast and needs no bundler at run time. A server that finds no built page still
 * starts (the API does not depend on it): it logs a warning and answers `/` with what to run.
 * The design: docs/design.md, "Web page".
 */
export const webPlugin: FastifyPluginAsync<WebPluginOptions> = async (app, opts) => {
  const dist = opts.dist ?? WEB_DIST;
  if (!existsSync(path.join(dist, "index.html")) || !existsSync(path.join(dist, "app.js"))) {
    app.log.warn({ dist }, WEB_PAGE_NOT_BUILT);
    app.get("/", { schema: { hide: true } }, async (_request, reply) =>
      reply.status(503).send(errorBody("web_page_not_built", WEB_PAGE_NOT_BUILT)),
    );
    return;
  }
  const stale = newestSource(opts.sources ?? WEB_SOURCES) > statSync(path.join(dist, "app.js")).mtimeMs;
  if (stale)
    app.log.warn({ dist }, "the web page is older than its sources: run `npm run build` to serve the current one");
  await app.register(fastifyStatic, {
    root: dist,
    index: "index.html",
    wildcard: false,
    cacheControl: true,
    maxAge: 0,
  });
};

/** The newest modification time of any file under these folders (0 for none). */
function newestSource(dirs: string[]): number {
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((e) =>
        e.isDirectory() ? newest(path.join(dir, e.name)) : statSync(path.join(dir, e.name)).mtimeMs,
      ),
    );
  return Math.max(0, ...dirs.filter((d) => existsSync(d)).map(newest));
}
