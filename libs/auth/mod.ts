export { createTokens, type Tokens, type VerifiedToken } from "./tokens.ts";
export { loadOrCreateTokenSecret } from "./secret.ts";
export { authenticate, verifyRequest, tokenFromRequest, TOKEN_COOKIE } from "./request.ts";
