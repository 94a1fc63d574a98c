export { createTokens, type Tokens, type VerifiedToken } from "./tokens.ts";
export { loadOrCreateTokenSecret } from "./secret.ts";
export { authenticate, tokenFromRequest, TOKEN_COOKIE } from "./request.ts";
