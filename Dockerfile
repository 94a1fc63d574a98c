# syntax=docker/dockerfile:1
# herald's one image: the api, the web page, the worker and the notifier are the same code started with another
# command (compose.yaml sets it): node --import tsx apps/<app>/main.ts. Node 24 LTS (what CI runs the suite and the fault suite on).
#
#   docker build -t herald .
#   docker run --rm -e NATS_URL=nats://… -e TOKEN_SECRET=… -p 3000:3000 herald            # the api
#   docker run --rm -e NATS_URL=nats://… herald node --import tsx apps/worker/main.ts     # a worker

ARG NODE_IMAGE=node:24-slim

# --- build: every dependency, then the web page (esbuild bundle into apps/web/dist) --------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# --- production dependencies only --------------------------------------------------------------
# herald runs its TypeScript through tsx, which is a production dependency (it brings esbuild; the
# apps never run esbuild themselves: the page is built above): --omit=dev leaves out typescript,
# vitest, playwright-core and the type packages.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- runtime -----------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY libs ./libs
COPY apps ./apps
COPY nats ./nats
COPY examples ./examples
# Copied after the sources, so the bundle is newer than they are (a page older than its sources is
# served with a warning to rebuild).
COPY --from=build /app/apps/web/dist ./apps/web/dist
# The code stays root's and read-only to the app; it runs as the image's unprivileged `node` user.
USER node
EXPOSE 3000
CMD ["node", "--import", "tsx", "apps/api/main.ts"]
