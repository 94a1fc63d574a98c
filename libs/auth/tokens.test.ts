import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { SignJWT } from "jose";
import { UnauthorizedError } from "../contracts/mod.ts";
import { createTokens } from "./mod.ts";

const A = "secret-a-that-is-at-least-32-bytes-long";
const B = "secret-b-that-is-at-least-32-bytes-long";

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "accepted";
  } catch (err) {
    expect(err).toBeInstanceOf(UnauthorizedError);
    return (err as UnauthorizedError).code;
  }
}

describe("tokens", () => {
  it("mints an HS256 JWT with sub and exp, and verifies it", async () => {
    const tokens = createTokens([A], 60_000);
    const { token, expiresAt } = await tokens.mint("user_42");
    const [header, payload] = token
      .split(".")
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, "base64url").toString()));
    expect(header).toMatchObject({ alg: "HS256", typ: "JWT" });
    expect(payload).toMatchObject({ sub: "user_42", exp: Math.floor(expiresAt.getTime() / 1000) });
    expect(await tokens.verify(token)).toEqual({ clientId: "user_42", expiresAt });
  });

  it("accepts a token a host application minted itself with the shared secret", async () => {
    // The README's example, verbatim in spirit: jose, HS256, sub = the app's user id, exp.
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("customer-1234")
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(A));
    expect((await createTokens([A], 60_000).verify(token)).clientId).toBe("customer-1234");
  });

  it("rejects expired, foreign, unsigned and malformed tokens, and subjects that are not client ids", async () => {
    const tokens = createTokens([A], 60_000);
    const expired = await tokens.mint("c1", -120_000);
    expect(await codeOf(tokens.verify(expired.token))).toBe("token_expired");
    expect(await codeOf(tokens.verify((await createTokens([B], 60_000).mint("c1")).token))).toBe("invalid_token");
    const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(
      JSON.stringify({ sub: "c1", exp: 9_999_999_999 }),
    ).toString("base64url")}.`;
    expect(await codeOf(tokens.verify(none))).toBe("invalid_token");
    expect(await codeOf(tokens.verify("garbage"))).toBe("invalid_token");
    for (const sub of ["a.b", "*", ">", "has space", "x".repeat(65)]) {
      const t = await new SignJWT({})
        .setProtectedHeader({ alg: "HS256" })
        .setSubject(sub)
        .setExpirationTime("1h")
        .sign(new TextEncoder().encode(A));
      expect(await codeOf(tokens.verify(t)), sub).toBe("invalid_token");
    }
    const noExp = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("c1")
      .sign(new TextEncoder().encode(A));
    expect(await codeOf(tokens.verify(noExp))).toBe("invalid_token");
  });

  it("rejects what a JWT library rejects: other algorithms, crit headers, a future nbf, a non-numeric iat, altered signatures", async () => {
    const tokens = createTokens([A], 60_000);
    // Signed by hand: jose will not sign some of these (an unknown crit extension).
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const sign = async (header: Record<string, unknown>, claims: Record<string, unknown>) => {
      const signed = `${b64(header)}.${b64(claims)}`;
      return `${signed}.${createHmac("sha256", A).update(signed).digest("base64url")}`;
    };
    const exp = Math.floor(Date.now() / 1000) + 600;
    expect(await codeOf(tokens.verify(await sign({ alg: "HS384" }, { sub: "c1", exp })))).toBe("invalid_token");
    expect(await codeOf(tokens.verify(await sign({ alg: "HS256", crit: ["x"], x: 1 }, { sub: "c1", exp })))).toBe(
      "invalid_token",
    );
    expect(await codeOf(tokens.verify(await sign({ alg: "HS256" }, { sub: "c1", exp, nbf: exp - 60 })))).toBe(
      "invalid_token",
    );
    expect(await codeOf(tokens.verify(await sign({ alg: "HS256" }, { sub: "c1", exp, iat: "now" })))).toBe(
      "invalid_token",
    );
    expect(await codeOf(tokens.verify(await sign({ alg: "HS256" }, { sub: "c1", exp: String(exp) })))).toBe(
      "invalid_token",
    );
    const good = await sign({ alg: "HS256" }, { sub: "c1", exp, nbf: exp - 1200 });
    expect((await tokens.verify(good)).clientId).toBe("c1");
    const [h, p, sig] = good.split(".") as [string, string, string];
    const flipped = Buffer.from(sig, "base64url");
    flipped[0] = flipped[0]! ^ 1;
    for (const bad of [
      `${h}.${p}.${flipped.toString("base64url")}`,
      `${h}.${p}.${sig.slice(0, -2)}`,
      `${h}.${p}.${sig}=`,
      `${h}.${p}`,
      `${h}.${p}.${sig}.x`,
    ]) {
      expect(await codeOf(tokens.verify(bad)), bad).toBe("invalid_token");
    }
  });

  it("verifies with every configured secret, so a secret can be rotated", async () => {
    const old = await createTokens([A], 60_000).mint("c1");
    const rotated = createTokens([B, A], 60_000);
    expect((await rotated.verify(old.token)).clientId).toBe("c1");
    const fresh = await rotated.mint("c2");
    expect(await codeOf(createTokens([A], 60_000).verify(fresh.token))).toBe("invalid_token");
  });

  it("stops accepting a token the moment it expires, even one verified (and remembered) before", async () => {
    const tokens = createTokens([A], 60_000);
    const { token, expiresAt } = await tokens.mint("c1", 1_500);
    expect((await tokens.verify(token)).clientId).toBe("c1");
    expect((await tokens.verify(token)).clientId).toBe("c1");
    await new Promise((r) => setTimeout(r, expiresAt.getTime() - Date.now() + 20));
    expect(await codeOf(tokens.verify(token))).toBe("token_expired");
  });

  it("keeps verifying correctly past its memory of verified tokens, and never remembers a bad one", async () => {
    const tokens = createTokens([A], 60_000);
    const minted = await Promise.all(Array.from({ length: 5_000 }, (_, i) => tokens.mint(`c${i}`)));
    for (const [i, m] of minted.entries()) expect((await tokens.verify(m.token)).clientId).toBe(`c${i}`);
    // The first ones were forgotten (bounded memory) and are verified again from scratch.
    expect((await tokens.verify(minted[0]!.token)).clientId).toBe("c0");
    const t = minted[1]!.token;
    const at = t.length - 10; // inside the signature, where every bit counts
    const altered = t.slice(0, at) + (t[at] === "A" ? "B" : "A") + t.slice(at + 1);
    expect(await codeOf(tokens.verify(altered))).toBe("invalid_token");
    expect(await codeOf(tokens.verify(altered))).toBe("invalid_token");
  });
});
