/**
 * Which webhook URLs herald will send to (issue 17). A webhook URL is chosen by the client, so
 * without this check herald would POST wherever it is told: its own loopback, the private network
 * it runs in, a cloud metadata endpoint (server-side request forgery).
 *
 * Two checks, both here: `checkWebhookUrl` (synchronous, no DNS: the URL's shape, its scheme, a
 * literal IP host, `localhost`) and `resolveWebhookHost` (every address the name resolves to). The
 * route runs both at registration; safeFetch.ts runs the address check again at connect time,
 * because a name can resolve to something else by then (DNS rebinding).
 */
import { lookup as dnsLookup } from "node:dns/promises";
import net from "node:net";
import { InvalidInputError } from "../contracts/mod.ts";

/** Longer than any real receiver's URL; a bound on what a client can make herald store. */
export const MAX_WEBHOOK_URL_LENGTH = 2048;

/** What the operator lets through that the default policy would refuse. */
export interface WebhookUrlPolicy {
  /** Plain `http:` URLs: for tests and for receivers inside a trusted network. */
  allowHttp: boolean;
  /** Hosts and addresses that may be sent to even though they are not public. */
  allowHosts: AllowList;
}

/** Host names, IP addresses and CIDRs an operator allows (WEBHOOK_ALLOW_HOSTS or the like). */
export interface AllowList {
  /** The entries as parsed (names lower-cased, without a trailing dot), for logs. */
  readonly entries: readonly string[];
  /** Is this host name allowed by name? Exact match, case-insensitive, a trailing dot ignored. */
  hasName(hostname: string): boolean;
  /** Is this IP address allowed (one of the addresses, or inside one of the CIDRs)? */
  hasAddress(ip: string): boolean;
}

/** The address resolver: `dns.promises.lookup` by default, a stand-in in tests. */
export type LookupAll = (
  hostname: string,
  options: { all: true },
) => Promise<readonly { address: string; family: number }[]>;

/** A webhook URL that cannot be one at all: not a string, not a URL, credentials, a fragment… */
export class InvalidWebhookUrlError extends InvalidInputError {
  constructor(message: string) {
    super(message, "invalid_webhook_url");
  }
}

/**
 * A well-formed URL that herald will not send to. `reason` is short and stable enough to count
 * (`loopback`, `private`, `metadata`, `localhost`, `scheme ftp: not allowed`…); `address` is the
 * resolved address that was refused, when it came from DNS: for the caller's logs, kept out of the
 * message, which goes back to the client.
 */
export class WebhookUrlRefusedError extends InvalidInputError {
  readonly reason: string;
  readonly address: string | null;

  constructor(reason: string, message: string, address: string | null = null) {
    super(message, "webhook_url_refused");
    this.reason = reason;
    this.address = address;
  }
}

/**
 * Parses a comma-separated allow list: host names (`receiver.internal`), IP addresses (`10.0.0.5`,
 * `::1`) and CIDRs (`10.0.0.0/8`, `fd00::/8`). Returns an error message for the first bad entry.
 * Empty entries are skipped, so an empty string is an empty list.
 */
export function parseAllowHosts(csv: string): AllowList | string {
  const names = new Set<string>();
  const addresses = new net.BlockList();
  const entries: string[] = [];
  for (const raw of csv.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    if (entry.includes("://")) return `allowed hosts: "${entry}" is a URL; list its host name instead`;
    const slash = entry.indexOf("/");
    if (slash >= 0) {
      const ip = entry.slice(0, slash);
      const prefixText = entry.slice(slash + 1);
      const family = net.isIP(ip);
      const max = family === 4 ? 32 : 128;
      if (family === 0) return `allowed hosts: "${entry}" is not a CIDR (${ip} is not an IP address)`;
      if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
        return `allowed hosts: "${entry}" is not a CIDR (the prefix length must be 0 to ${max})`;
      }
      addresses.addSubnet(ip, Number(prefixText), family === 4 ? "ipv4" : "ipv6");
      entries.push(`${ip}/${Number(prefixText)}`);
      continue;
    }
    const ip = bareHost(entry);
    const family = net.isIP(ip);
    if (family !== 0) {
      addresses.addAddress(ip, family === 4 ? "ipv4" : "ipv6");
      entries.push(ip);
      continue;
    }
    const name = normalName(entry);
    if (entry.includes("*")) return `allowed hosts: "${entry}": wildcards are not supported; list each host name`;
    if (!isHostName(name)) return `allowed hosts: "${entry}" is neither a host name, an IP address nor a CIDR`;
    names.add(name);
    entries.push(name);
  }
  return {
    entries,
    hasName: (hostname) => names.has(normalName(hostname)),
    hasAddress: (ip) => {
      const bare = bareHost(ip);
      const family = net.isIP(bare);
      // BlockList also matches an IPv4-mapped IPv6 address (::ffff:10.0.0.5) against IPv4 rules.
      return family !== 0 && addresses.check(bare, family === 4 ? "ipv4" : "ipv6");
    },
  };
}

/**
 * The registration-time check, without DNS: returns the parsed URL or throws
 * InvalidWebhookUrlError (not a usable URL) or WebhookUrlRefusedError (a URL herald will not call).
 * A host name still has to go through `resolveWebhookHost`.
 */
export function checkWebhookUrl(raw: unknown, policy: WebhookUrlPolicy): URL {
  if (typeof raw !== "string") throw new InvalidWebhookUrlError("webhook URL must be a string");
  if (raw.length > MAX_WEBHOOK_URL_LENGTH) {
    throw new InvalidWebhookUrlError(`webhook URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidWebhookUrlError("webhook URL is not a valid absolute URL");
  }
  // Percent-encoding can make the stored form longer than what was sent.
  if (url.href.length > MAX_WEBHOOK_URL_LENGTH) {
    throw new InvalidWebhookUrlError(`webhook URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters`);
  }
  // Credentials would be stored and logged with the URL; a signature is the way to authenticate.
  if (url.username !== "" || url.password !== "") {
    throw new InvalidWebhookUrlError("webhook URL must not contain credentials (user:password@)");
  }
  // A fragment is never sent, and `https://a#@b/` reads as host b but is host a. In the serialised
  // form a `#` can only be the fragment's (elsewhere it is percent-encoded); `hash` is "" for `x#`.
  if (url.href.includes("#")) throw new InvalidWebhookUrlError("webhook URL must not contain a fragment (#…)");

  if (url.protocol === "http:") {
    if (!policy.allowHttp) {
      throw new WebhookUrlRefusedError(
        "scheme http: not allowed",
        "webhook URL refused: only https: URLs are accepted (http: is not enabled on this server)",
      );
    }
  } else if (url.protocol !== "https:") {
    const scheme = url.protocol.slice(0, 40);
    throw new WebhookUrlRefusedError(
      `scheme ${scheme} not allowed`,
      `webhook URL refused: only https: URLs are accepted, not ${scheme}`,
    );
  }

  const host = bareHost(url.hostname);
  if (net.isIP(host) !== 0) {
    if (!policy.allowHosts.hasAddress(host)) {
      const reason = isRefusedAddress(host);
      if (reason !== null) {
        throw new WebhookUrlRefusedError(reason, `webhook URL refused: ${host} is ${describeReason(reason)}`);
      }
    }
  } else if (isLocalhostName(host) && !policy.allowHosts.hasName(host)) {
    // Resolved by the OS itself (often without DNS), so the address check may never see it.
    throw new WebhookUrlRefusedError("localhost", `webhook URL refused: ${host} is a localhost name`);
  }
  return url;
}

/**
 * Resolves the URL's host (every address) and throws WebhookUrlRefusedError if any of them is
 * refused: a name whose addresses include 127.0.0.1 is refused even if others are public, since a
 * connection may go to any of them. A name on the allow list is allowed whatever it resolves to.
 * A name that does not resolve (ENOTFOUND, ENODATA) is refused as `unresolvable`; other DNS
 * failures (a timeout, SERVFAIL) are thrown as they are: they say nothing about the URL.
 */
export async function resolveWebhookHost(
  url: URL,
  policy: WebhookUrlPolicy,
  lookup: LookupAll = dnsLookup,
): Promise<string[]> {
  const host = bareHost(url.hostname);
  if (net.isIP(host) !== 0) {
    checkResolvedAddresses(host, [host], policy);
    return [host];
  }
  let found: readonly { address: string }[];
  try {
    found = await lookup(host, { all: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | null)?.code;
    if (code === "ENOTFOUND" || code === "ENODATA") {
      throw new WebhookUrlRefusedError("unresolvable", `webhook URL refused: ${host} does not resolve (${code})`);
    }
    throw err;
  }
  const addresses = found.map((a) => a.address);
  if (addresses.length === 0) {
    throw new WebhookUrlRefusedError("unresolvable", `webhook URL refused: ${host} resolves to no address`);
  }
  checkResolvedAddresses(host, addresses, policy);
  return addresses;
}

/**
 * Throws WebhookUrlRefusedError unless every address `hostname` resolved to may be connected to
 * (or the name itself is allowed). Shared by registration and by the connect-time lookup.
 */
export function checkResolvedAddresses(hostname: string, addresses: readonly string[], policy: WebhookUrlPolicy): void {
  if (net.isIP(bareHost(hostname)) === 0 && policy.allowHosts.hasName(hostname)) return;
  for (const address of addresses) {
    if (policy.allowHosts.hasAddress(address)) continue;
    const reason = isRefusedAddress(address);
    if (reason === null) continue;
    const what = address === bareHost(hostname) ? `${address} is` : `${hostname} resolves to`;
    throw new WebhookUrlRefusedError(reason, `webhook URL refused: ${what} ${describeReason(reason)}`, address);
  }
}

/**
 * Null for an address on the public internet; otherwise why not (`loopback`, `private`,
 * `link-local`, `metadata`, `unspecified`, `multicast`, `broadcast`, `carrier-grade NAT`,
 * `reserved`, `benchmarking`, `documentation`, `unique-local`, `site-local`, `invalid`). IPv4
 * embedded in IPv6 (IPv4-mapped, NAT64, 6to4) is judged by its IPv4 address. Anything outside
 * IPv6's global unicast range (2000::/3) is `reserved`.
 */
export function isRefusedAddress(ip: string): string | null {
  const bytes = parseIp(ip);
  if (bytes === null) return "invalid";
  if (bytes.length === 4) return matchRange(bytes, IPV4_RANGES);
  for (const embedded of EMBEDDED_V4) {
    if (inRange(bytes, embedded.prefix, embedded.bits)) {
      return matchRange(bytes.subarray(embedded.offset, embedded.offset + 4), IPV4_RANGES);
    }
  }
  const reason = matchRange(bytes, IPV6_RANGES);
  if (reason !== null) return reason;
  // Only 2000::/3 is allocated for global unicast; the rest is unassigned or special.
  return (bytes[0]! & 0xe0) === 0x20 ? null : "reserved";
}

interface Range {
  prefix: Uint8Array;
  bits: number;
  reason: string;
}

function ranges(list: readonly (readonly [string, string])[]): Range[] {
  return list.map(([cidr, reason]) => {
    const [ip, bits] = cidr.split("/") as [string, string];
    return { prefix: parseIp(ip)!, bits: Number(bits), reason };
  });
}

// First match wins: the single metadata addresses come before the ranges that hold them.
const IPV4_RANGES = ranges([
  ["169.254.169.254/32", "metadata"], // AWS, GCP, Azure, OpenStack, Oracle…
  ["100.100.100.200/32", "metadata"], // Alibaba Cloud
  ["255.255.255.255/32", "broadcast"],
  ["0.0.0.0/8", "unspecified"], // "this network"; Linux connects 0.0.0.0 to the local host
  ["10.0.0.0/8", "private"],
  ["100.64.0.0/10", "carrier-grade NAT"],
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link-local"],
  ["172.16.0.0/12", "private"],
  ["192.0.0.0/24", "reserved"], // IETF protocol assignments
  ["192.0.2.0/24", "documentation"],
  ["192.88.99.0/24", "reserved"], // the former 6to4 relay anycast
  ["192.168.0.0/16", "private"],
  ["198.18.0.0/15", "benchmarking"],
  ["198.51.100.0/24", "documentation"],
  ["203.0.113.0/24", "documentation"],
  ["224.0.0.0/4", "multicast"],
  ["240.0.0.0/4", "reserved"],
]);

const IPV6_RANGES = ranges([
  ["::/128", "unspecified"],
  ["::1/128", "loopback"],
  ["64:ff9b:1::/48", "private"], // local-use NAT64 (RFC 8215)
  ["::/8", "reserved"], // IPv4-compatible (::a.b.c.d), IPv4-translated, the rest unassigned
  ["100::/64", "reserved"], // discard-only
  ["2001:db8::/32", "documentation"],
  ["2001::/23", "reserved"], // IETF protocol assignments: Teredo, benchmarking, ORCHID…
  ["3fff::/20", "documentation"],
  ["fd00:ec2::254/128", "metadata"], // AWS over IPv6
  ["fc00::/7", "unique-local"],
  ["fe80::/10", "link-local"],
  ["fec0::/10", "site-local"],
  ["ff00::/8", "multicast"],
]);

/** IPv6 ranges that carry an IPv4 address a connection ends up at, and where it sits. */
const EMBEDDED_V4 = [
  { ...ranges([["::ffff:0:0/96", ""]])[0]!, offset: 12 }, // IPv4-mapped
  { ...ranges([["64:ff9b::/96", ""]])[0]!, offset: 12 }, // NAT64, well-known prefix
  { ...ranges([["2002::/16", ""]])[0]!, offset: 2 }, // 6to4
];

function matchRange(bytes: Uint8Array, list: readonly Range[]): string | null {
  for (const range of list) if (inRange(bytes, range.prefix, range.bits)) return range.reason;
  return null;
}

function inRange(bytes: Uint8Array, prefix: Uint8Array, bits: number): boolean {
  if (bytes.length !== prefix.length) return false;
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) if (bytes[i] !== prefix[i]) return false;
  const rest = bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (bytes[whole]! & mask) === (prefix[whole]! & mask);
}

/** 4 or 16 bytes, or null if `ip` is not an IP address. Brackets and a zone (`%eth0`) are dropped. */
function parseIp(ip: string): Uint8Array | null {
  const bare = bareHost(ip);
  const family = net.isIP(bare);
  if (family === 4) return Uint8Array.from(bare.split(".").map(Number));
  if (family !== 6) return null;
  let text = bare.split("%")[0]!;
  const out = new Uint8Array(16);
  // A trailing dotted quad (::ffff:127.0.0.1) is the last 32 bits.
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(":");
  if (text.slice(lastColon + 1).includes(".")) {
    const v4 = text
      .slice(lastColon + 1)
      .split(".")
      .map(Number);
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    text = text.slice(0, lastColon + 1);
    if (text.endsWith(":") && !text.endsWith("::")) text = text.slice(0, -1);
  }
  const groups = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)));
  const [headText, restText] = text.split("::") as [string, string | undefined];
  const head = groups(headText);
  const rest = restText === undefined ? [] : groups(restText);
  const words = [...head, ...new Array<number>(8 - head.length - rest.length - tail.length).fill(0), ...rest, ...tail];
  words.forEach((word, i) => {
    out[i * 2] = word >> 8;
    out[i * 2 + 1] = word & 0xff;
  });
  return out;
}

/** `[::1]` → `::1` (URL.hostname keeps the brackets of an IPv6 host). */
function bareHost(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

function normalName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

function isLocalhostName(host: string): boolean {
  const name = normalName(host);
  return name === "localhost" || name.endsWith(".localhost");
}

/**
 * DNS labels of letters, digits, `-` and `_`; not all-numeric at the end, which a URL would read
 * as an IPv4 address (`999.1.1.1` is not a name, and not an address either).
 */
function isHostName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split(".");
  if (!labels.every((l) => /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/.test(l))) return false;
  return !/^(0x[0-9a-f]*|\d+)$/.test(labels[labels.length - 1]!);
}

function describeReason(reason: string): string {
  if (reason === "metadata") return "a cloud metadata address";
  if (reason === "invalid") return "not a valid IP address";
  return `${/^[aeiou]/i.test(reason) ? "an" : "a"} ${reason} address`;
}
