/**
 * The NATS server an app uses when NATS_URL is not set (and the one-process mode is not running
 * one of its own): a local nats-server on its default port.
 */
export const DEFAULT_NATS_URL = "nats://127.0.0.1:4222";

/** NATS_URL's servers, or the default local one. */
export function serversOrDefault(config: { natsServers: string[] }): string[] {
  return config.natsServers.length ? config.natsServers : [DEFAULT_NATS_URL];
}
