export { createHttpServer, drainAndClose, type HttpServerOptions } from "./server.ts";
export { registerErrorHandling, errorBody } from "./errors.ts";
