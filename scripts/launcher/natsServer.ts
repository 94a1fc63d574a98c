import { startEmbeddedServer, type EmbeddedServer, type EmbeddedServerOptions } from "../../libs/nats/mod.ts";
import { killOnExit } from "./exitGuard.ts";

/**
 * A nats-server with JetStream on loopback (libs/nats's embedded server: the binary NATS_SERVER_BIN
 * or setup chose, checked against the floor), killed if this process exits before stopping it.
 */
export async function startNatsServer(opts: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const server = await startEmbeddedServer(opts);
  killOnExit(server.process);
  return server;
}
