export { connectNats, drainNats, type ConnectOptions } from "./connect.ts";
export { loadDefinitions, typeConsumerDefinition, type Definitions, type DefinitionOverrides } from "./definitions.ts";
export { provision, provisionTypeConsumers } from "./provision.ts";
export { connectAndProvision, type HeraldNats } from "./setup.ts";
export { startEmbeddedServer, type EmbeddedServer, type EmbeddedServerOptions } from "./embeddedServer.ts";
export {
  findNatsServer,
  natsServerFromEnv,
  natsServerVersion,
  NatsServerNotFoundError,
  PROJECT_NATS_SERVER,
  type NatsServerBinary,
} from "./serverBinary.ts";
export { NATS_SERVER_FLOOR, NatsServerTooOldError, assertSupportedServer, versionAtLeast } from "./serverVersion.ts";
export { NATS_DEFINITIONS_DIR, definitionPath } from "./paths.ts";
export { ConnectionState, isNatsUnavailable, type ConnectionEvent } from "./connectionState.ts";
export { serversForTools } from "./toolServers.ts";
export { JetStreamErrorCode, isJetStreamError } from "./jetStreamErrors.ts";
export { DEFAULT_NATS_URL, serversOrDefault } from "./defaultServer.ts";
export { readStoredMessages } from "./readStoredMessages.ts";
