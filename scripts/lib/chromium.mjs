// Finds a Chromium for Playwright: Debian's /usr/bin/chromium (or CHROMIUM_PATH), else the
// browser Playwright installed itself. Returns { path } (path null = Playwright's own) or null.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

export function findChromium() {
  for (const p of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (p && existsSync(p)) return { path: p };
  }
  try {
    const require = createRequire(import.meta.url);
    const { chromium } = require('playwright-core');
    const own = chromium.executablePath();
    if (own && existsSync(own)) return { path: null };
  } catch {
    // playwright-core missing or no browser installed
  }
  return null;
}
