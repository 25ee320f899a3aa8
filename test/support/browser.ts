import fs from "node:fs";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";

/** Debian's `chromium`, driven by playwright-core; CHROMIUM_PATH points elsewhere. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** A file loaded in headless Chromium, and what went wrong while it loaded and ran. */
export interface OpenedPage {
  browser: Browser;
  page: Page;
  /** Console errors (`console: ...`) and uncaught page errors (`page: ...`), as they happen. */
  errors: string[];
  close(): Promise<void>;
}

/** Opens a local file (an HTML report) in a fresh headless Chromium and waits for its `load`. */
export async function openInChromium(file: string, opts: { viewport?: { width: number; height: number } } = {}): Promise<OpenedPage> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install Debian's chromium (sudo apt-get install -y chromium; .ci/run does it when missing) or set CHROMIUM_PATH to a Chromium binary.`,
    );
  }
  // CI runs as root, where Chromium refuses its sandbox
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  const errors: string[] = [];
  try {
    const page = await browser.newPage({ viewport: opts.viewport ?? { width: 1280, height: 900 } });
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`page: ${e.message}`));
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    return { browser, page, errors, close: () => browser.close() };
  } catch (e) {
    await browser.close();
    throw e;
  }
}
