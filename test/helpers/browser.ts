import { chromium, type Browser } from "playwright-core";

/**
 * Debian's Chromium, headless, driven by playwright-core. The flags keep it off the network
 * (this machine has none but loopback) and out of any profile.
 */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_BIN ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
