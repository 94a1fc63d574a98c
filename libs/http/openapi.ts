/** OpenAPI: the ways a request may carry its token (the schemes are declared in server.ts). */
export const tokenSecurity: Record<string, string[]>[] = [{ bearer: [] }, { cookie: [] }, { accessToken: [] }];
