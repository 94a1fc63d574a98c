export { createHttpServer, drainAndClose, LISTEN_BACKLOG, type HttpServerOptions } from "./server.ts";
export { registerErrorHandling, errorBody } from "./errors.ts";
export { opsPlugin, type OpsDeps } from "./ops.ts";
export { tokenSecurity } from "./openapi.ts";
export { shedIdleStreamState } from "./streamConnection.ts";
