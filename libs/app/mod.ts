export { onShutdown, exitOnStartupError, loadConfigOrExit } from "./lifecycle.ts";
