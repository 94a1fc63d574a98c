export { createHttpServer, type HttpServerOptions } from "./server.ts";
export { drainAndClose } from "./drainAndClose.ts";
export { registerErrorHandling, errorBody } from "./errors.ts";
export { opsPlugin, type OpsDeps } from "./ops.ts";
export { Readiness } from "./readiness.ts";
export { tokenSecurity } from "./openapi.ts";
export { shedIdleStreamState } from "./streamConnection.ts";
