import { describe, expect, it } from "vitest";
import {
  type AllowList,
  checkWebhookUrl,
  InvalidWebhookUrlError,
  isRefusedAddress,
  type LookupAll,
  parseAllowHosts,
  resolveWebhookHost,
  type WebhookUrlPolicy,
  WebhookUrlRefusedError,
} from "./urlPolicy.ts";

function allow(csv: string): AllowList {
  const list = parseAllowHosts(csv);
  if (typeof list === "string") throw new Error(list);
  return list;
}

function policy(allowHosts = "", allowHttp = false): WebhookUrlPolicy {
  return { allowHttp, allowHosts: allow(allowHosts) };
}

/** The error `fn` throws (or the rejection of what it returns). */
async function caught(fn: () => unknown): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected an error");
}

/** A resolver that answers every name with these addresses, as `dns.lookup` would. */
function resolvesTo(...addresses: string[]): LookupAll {
  return async () => addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
}

describe("checkWebhookUrl: refused at registration", () => {
  it.each([
    ["https://127.0.0.1/", "loopback"],
    ["https://127.1.2.3:8443/hook", "loopback"],
    ["https://[::1]/", "loopback"],
    ["https://[::ffff:127.0.0.1]/", "loopback"],
    ["https://2130706433/", "loopback"], // 127.0.0.1 written as one number
    ["https://0x7f.0.0.1/", "loopback"],
    ["https://10.1.2.3/", "private"],
    ["https://192.168.1.1/", "private"],
    ["https://169.254.169.254/latest/meta-data", "metadata"],
    ["https://[fd00:ec2::254]/", "metadata"],
    ["https://0.0.0.0/", "unspecified"],
    ["https://[fe80::1]/", "link-local"],
    ["https://localhost/", "localhost"],
    ["https://LOCALHOST./", "localhost"],
    ["https://api.localhost/", "localhost"],
    ["ftp://x", "scheme ftp: not allowed"],
    ["file:///etc/passwd", "scheme file: not allowed"],
    ["javascript:alert(1)", "scheme javascript: not allowed"],
    ["http://example.com", "scheme http: not allowed"],
  ])("%s: %s", (url, reason) => {
    const err = (() => {
      try {
        checkWebhookUrl(url, policy());
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(WebhookUrlRefusedError);
    expect((err as WebhookUrlRefusedError).reason).toBe(reason);
    expect((err as WebhookUrlRefusedError).code).toBe("webhook_url_refused");
    expect((err as WebhookUrlRefusedError).status).toBe(400);
    expect((err as Error).message).toMatch(/^webhook URL refused: /);
  });

  it("the message says why in words", () => {
    expect(() => checkWebhookUrl("https://169.254.169.254/", policy())).toThrow(
      "webhook URL refused: 169.254.169.254 is a cloud metadata address",
    );
    expect(() => checkWebhookUrl("https://[::1]/", policy())).toThrow("::1 is a loopback address");
    expect(() => checkWebhookUrl("ftp://x", policy())).toThrow("only https: URLs are accepted, not ftp:");
  });

  it.each([
    [42, "must be a string"],
    [null, "must be a string"],
    [undefined, "must be a string"],
    ["not a url", "not a valid absolute URL"],
    ["/relative/path", "not a valid absolute URL"],
    ["https://", "not a valid absolute URL"],
    [`https://example.com/${"a".repeat(2048)}`, "longer than 2048 characters"],
    ["https://user:pw@example.com", "credentials"],
    ["https://user@example.com/", "credentials"],
    ["https://example.com/hook#frag", "fragment"],
    ["https://example.com/hook#", "fragment"],
    ["https://example.com#@127.0.0.1/", "fragment"],
  ])("invalid: %j", (raw, message) => {
    expect(() => checkWebhookUrl(raw, policy())).toThrow(InvalidWebhookUrlError);
    expect(() => checkWebhookUrl(raw, policy())).toThrow(message);
    try {
      checkWebhookUrl(raw, policy());
    } catch (err) {
      expect((err as InvalidWebhookUrlError).code).toBe("invalid_webhook_url");
    }
  });
});

describe("checkWebhookUrl: allowed", () => {
  it("a public https URL, returned parsed", () => {
    const url = checkWebhookUrl("https://Receiver.Example.com/hooks/herald?x=1", policy());
    expect(url.href).toBe("https://receiver.example.com/hooks/herald?x=1");
  });

  it("a public IP literal", () => {
    expect(checkWebhookUrl("https://8.8.8.8/", policy()).hostname).toBe("8.8.8.8");
    expect(checkWebhookUrl("https://[2606:4700::1111]/", policy()).hostname).toBe("[2606:4700::1111]");
  });

  it("http: with allowHttp", () => {
    expect(checkWebhookUrl("http://example.com/", policy("", true)).protocol).toBe("http:");
  });

  it("an address allow-listed by IP", () => {
    expect(checkWebhookUrl("https://127.0.0.1:8080/", policy("127.0.0.1")).port).toBe("8080");
    expect(checkWebhookUrl("https://[::1]/", policy("::1")).hostname).toBe("[::1]");
    expect(() => checkWebhookUrl("https://127.0.0.2/", policy("127.0.0.1"))).toThrow(WebhookUrlRefusedError);
  });

  it("an address allow-listed by CIDR", () => {
    expect(checkWebhookUrl("https://10.1.2.3/", policy("10.0.0.0/8")).hostname).toBe("10.1.2.3");
    expect(checkWebhookUrl("https://[fd12::1]/", policy("fd00::/8")).hostname).toBe("[fd12::1]");
    expect(() => checkWebhookUrl("https://11.0.0.1/", policy("10.0.0.0/8"))).not.toThrow();
    expect(() => checkWebhookUrl("https://192.168.0.1/", policy("10.0.0.0/8"))).toThrow(WebhookUrlRefusedError);
  });

  it("localhost allow-listed by name", () => {
    expect(checkWebhookUrl("https://localhost:9000/", policy("localhost")).hostname).toBe("localhost");
    expect(() => checkWebhookUrl("https://api.localhost/", policy("localhost"))).toThrow(WebhookUrlRefusedError);
  });
});

describe("resolveWebhookHost", () => {
  const url = (s: string) => checkWebhookUrl(s, policy("", true));

  it("refuses a name that resolves to loopback (the reason, and the address for the caller's logs)", async () => {
    const err = await caught(() =>
      resolveWebhookHost(url("https://sneaky.example/"), policy(), resolvesTo("127.0.0.1")),
    );
    expect(err).toBeInstanceOf(WebhookUrlRefusedError);
    expect(err).toMatchObject({ reason: "loopback", address: "127.0.0.1", code: "webhook_url_refused" });
    expect((err as Error).message).toBe("webhook URL refused: sneaky.example resolves to a loopback address");
  });

  it.each([
    [["10.0.0.5"], "private"],
    [["169.254.169.254"], "metadata"],
    [["::1"], "loopback"],
    [["::ffff:127.0.0.1"], "loopback"],
    [["93.184.216.34", "192.168.0.10"], "private"], // one refused address is enough
    [["2606:4700::1111", "fe80::1"], "link-local"],
  ])("refuses a name resolving to %j: %s", async (addresses, reason) => {
    const err = await caught(() => resolveWebhookHost(url("https://x.example/"), policy(), resolvesTo(...addresses)));
    expect(err).toBeInstanceOf(WebhookUrlRefusedError);
    expect((err as WebhookUrlRefusedError).reason).toBe(reason);
  });

  it("resolves with every address of a public name", async () => {
    const got = await resolveWebhookHost(
      url("https://x.example/"),
      policy(),
      resolvesTo("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"),
    );
    expect(got).toEqual(["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]);
  });

  it("asks the resolver for all addresses of the bare host name", async () => {
    const calls: unknown[] = [];
    const lookup: LookupAll = async (hostname, options) => {
      calls.push([hostname, options]);
      return [{ address: "93.184.216.34", family: 4 }];
    };
    await resolveWebhookHost(url("https://x.example:8443/p?q"), policy(), lookup);
    expect(calls).toEqual([["x.example", { all: true }]]);
  });

  it("allows a private address that is allow-listed by IP or CIDR, not one that is not", async () => {
    const u = url("https://receiver.internal/");
    expect(await resolveWebhookHost(u, policy("10.0.0.0/8"), resolvesTo("10.0.0.5"))).toEqual(["10.0.0.5"]);
    expect(await resolveWebhookHost(u, policy("127.0.0.1"), resolvesTo("127.0.0.1"))).toEqual(["127.0.0.1"]);
    expect(await resolveWebhookHost(u, policy("fd00::/8"), resolvesTo("fd00::5"))).toEqual(["fd00::5"]);
    const err = await caught(() => resolveWebhookHost(u, policy("10.0.0.0/8"), resolvesTo("10.0.0.5", "127.0.0.1")));
    expect(err).toMatchObject({ reason: "loopback" });
  });

  it("a name allowed by name is allowed whatever it resolves to", async () => {
    const u = url("https://Receiver.Internal./");
    expect(await resolveWebhookHost(u, policy("receiver.internal"), resolvesTo("127.0.0.1", "10.0.0.5"))).toEqual([
      "127.0.0.1",
      "10.0.0.5",
    ]);
  });

  it("checks an IP literal without asking DNS", async () => {
    const lookup: LookupAll = async () => {
      throw new Error("no DNS for a literal");
    };
    expect(await resolveWebhookHost(url("https://8.8.8.8/"), policy(), lookup)).toEqual(["8.8.8.8"]);
    expect(await resolveWebhookHost(new URL("https://[::1]/"), policy("::1"), lookup)).toEqual(["::1"]);
    expect(await caught(() => resolveWebhookHost(new URL("https://[::1]/"), policy(), lookup))).toMatchObject({
      reason: "loopback",
    });
  });

  it("refuses a name that does not resolve; other DNS failures are thrown as they are", async () => {
    const failing =
      (code: string): LookupAll =>
      async () => {
        throw Object.assign(new Error(`getaddrinfo ${code} x.example`), { code });
      };
    const u = url("https://x.example/");
    expect(await caught(() => resolveWebhookHost(u, policy(), failing("ENOTFOUND")))).toMatchObject({
      reason: "unresolvable",
      code: "webhook_url_refused",
    });
    expect(await caught(() => resolveWebhookHost(u, policy(), async () => []))).toMatchObject({
      reason: "unresolvable",
    });
    const other = await caught(() => resolveWebhookHost(u, policy(), failing("EAI_AGAIN")));
    expect(other).not.toBeInstanceOf(WebhookUrlRefusedError);
    expect(other).toMatchObject({ code: "EAI_AGAIN" });
  });
});

describe("isRefusedAddress", () => {
  it.each([
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["10.0.0.1", "private"],
    ["10.255.255.255", "private"],
    ["100.64.0.1", "carrier-grade NAT"],
    ["100.127.255.255", "carrier-grade NAT"],
    ["100.100.100.200", "metadata"],
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["169.254.0.1", "link-local"],
    ["169.254.169.254", "metadata"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.0.0.1", "reserved"],
    ["192.0.2.1", "documentation"],
    ["192.168.0.1", "private"],
    ["198.18.0.1", "benchmarking"],
    ["198.19.255.255", "benchmarking"],
    ["198.51.100.1", "documentation"],
    ["203.0.113.1", "documentation"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.255", "multicast"],
    ["240.0.0.1", "reserved"],
    ["255.255.255.254", "reserved"],
    ["255.255.255.255", "broadcast"],
    ["::", "unspecified"],
    ["::1", "loopback"],
    ["0:0:0:0:0:0:0:1", "loopback"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["febf:ffff::1", "link-local"],
    ["fc00::1", "unique-local"],
    ["fd12:3456::1", "unique-local"],
    ["fd00:ec2::254", "metadata"],
    ["ff02::1", "multicast"],
    ["2001:db8::1", "documentation"],
    ["3fff::1", "documentation"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:10.0.0.1", "private"],
    ["::ffff:169.254.169.254", "metadata"],
    ["64:ff9b::127.0.0.1", "loopback"], // NAT64 of 127.0.0.1
    ["64:ff9b::a00:1", "private"], // NAT64 of 10.0.0.1
    ["64:ff9b:1::1", "private"],
    ["2002:7f00:1::1", "loopback"], // 6to4 of 127.0.0.1
    ["::127.0.0.1", "reserved"], // IPv4-compatible: deprecated
    ["2001::1", "reserved"], // Teredo
    ["100::1", "reserved"],
    ["4000::1", "reserved"], // outside global unicast
    ["[::1]", "loopback"],
    ["not an ip", "invalid"],
    ["", "invalid"],
    ["127.1", "invalid"],
  ])("%s: %s", (ip, reason) => {
    expect(isRefusedAddress(ip)).toBe(reason);
  });

  it.each([
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "100.63.255.255",
    "100.128.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.0.1.1",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
    "2606:4700::1111",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
  ])("%s is public", (ip) => {
    expect(isRefusedAddress(ip)).toBeNull();
  });
});

describe("parseAllowHosts", () => {
  it("names, addresses and CIDRs, normalised", () => {
    const list = allow(" Receiver.Internal. , 10.0.0.0/8,fd00::/8, 127.0.0.1/32, ::1, [fe80::1], 192.168.1.5,");
    expect(list.entries).toEqual([
      "receiver.internal",
      "10.0.0.0/8",
      "fd00::/8",
      "127.0.0.1/32",
      "::1",
      "fe80::1",
      "192.168.1.5",
    ]);
    expect(list.hasName("RECEIVER.internal")).toBe(true);
    expect(list.hasName("receiver.internal.")).toBe(true);
    expect(list.hasName("other.internal")).toBe(false);
    expect(list.hasName("x.receiver.internal")).toBe(false);
    expect(list.hasAddress("10.200.0.1")).toBe(true);
    expect(list.hasAddress("::ffff:10.200.0.1")).toBe(true);
    expect(list.hasAddress("fdff::1")).toBe(true);
    expect(list.hasAddress("127.0.0.1")).toBe(true);
    expect(list.hasAddress("127.0.0.2")).toBe(false);
    expect(list.hasAddress("::1")).toBe(true);
    expect(list.hasAddress("[::1]")).toBe(true);
    expect(list.hasAddress("192.168.1.5")).toBe(true);
    expect(list.hasAddress("192.168.1.6")).toBe(false);
    expect(list.hasAddress("not an ip")).toBe(false);
  });

  it("an empty string is an empty list", () => {
    const list = allow("");
    expect(list.entries).toEqual([]);
    expect(list.hasAddress("127.0.0.1")).toBe(false);
    expect(list.hasName("localhost")).toBe(false);
  });

  it.each([
    ["10.0.0.0/33", "prefix length must be 0 to 32"],
    ["fd00::/129", "prefix length must be 0 to 128"],
    ["10.0.0.0/x", "prefix length"],
    ["10.0.0.0/", "prefix length"],
    ["example.com/8", "not an IP address"],
    ["*.example.com", "wildcards are not supported"],
    ["not a host!", "neither a host name"],
    ["http://example.com", "is a URL; list its host name"],
    ["example.com:443", "neither a host name"],
    ["999.1.1.1", "neither a host name"],
    ["ok.example, -bad-.example", '"-bad-.example"'],
  ])("refuses %j", (csv, message) => {
    const result = parseAllowHosts(csv);
    expect(typeof result).toBe("string");
    expect(result).toContain(message);
  });
});
