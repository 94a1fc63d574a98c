import { registerClient } from "../../../libs/client/mod.ts";
import { credentialsPath, loadCredentials, saveCredentials } from "../credentials.ts";
import { CliError } from "../context.ts";

/** `herald login`: a new client identity, kept in the user's config directory. */
export async function login(url: string, out: NodeJS.WritableStream): Promise<void> {
  const identity = await registerClient({ url });
  saveCredentials(url, identity);
  out.write(
    `logged in to ${url} as ${identity.clientId} (token expires ${identity.expiresAt}; kept in ${credentialsPath()})\n`,
  );
}

/** `herald token`: the stored token, for scripts (curl -H "Authorization: Bearer $(herald token)"). */
export function token(url: string, out: NodeJS.WritableStream): void {
  const identity = loadCredentials(url);
  if (!identity) throw new CliError(`not logged in to ${url}: run \`herald login --url ${url}\``);
  out.write(`${identity.token}\n`);
}
