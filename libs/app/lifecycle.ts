import type { Logger } from "pino";

/**
 * Runs `stop` once on SIGINT or SIGTERM, then exits. A second signal (a second after the first) exits at once;
 * a stop that hangs is cut off after `timeoutMs`, so a process never lingers.
 */
export function onShutdown(log: Logger, stop: () => Promise<void>, timeoutMs = 30_000): void {
  let stoppingSince = 0;
  const handler = (signal: NodeJS.Signals) => {
    if (stoppingSince) {
      // One Ctrl-C can arrive twice (the terminal signals the process group, and npm relays it):
      // only a signal well after the first means "exit now".
      if (Date.now() - stoppingSince < 1_000) return;
      log.warn({ signal }, "second signal: exiting now");
      process.exit(130);
    }
    stoppingSince = Date.now();
    log.info({ signal }, "shutting down");
    const timer = setTimeout(() => {
      log.error({ timeoutMs }, "shutdown timed out; exiting");
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    stop().then(
      () => {
        log.info("stopped");
        process.exit(0);
      },
      (err) => {
        log.error({ err }, "error while stopping");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
}

/** Logs a start-up failure (a ConfigError prints its list of problems) and exits 1. */
export function exitOnStartupError(log: Logger, err: unknown): never {
  const e = err as Error;
  if (e?.name === "ConfigError" || e?.name === "NatsServerNotFoundError" || e?.name === "NatsServerTooOldError") {
    process.stderr.write(`herald: ${e.message}\n`);
  }
  log.fatal({ err }, "failed to start");
  process.exit(1);
}

/** Loads the configuration, or prints every problem with it and exits 1 (before any logger exists). */
export async function loadConfigOrExit<T>(load: () => T | Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    process.stderr.write(`herald: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
