// Takes docs/images/dashboard-alerts.png: the dashboard's Alerts view of a running Portcullis.
// Run by hand against a binary with alerts firing (see docs/monitoring.md), with
// PORTCULLIS_ADMIN_URL, PORTCULLIS_ADMIN_TOKEN and PORTCULLIS_SCREENSHOTS (a folder) set, after
// `npm ci` here. Debian's Chromium, headless; no browser is downloaded; every wait has a deadline.
import { chromium } from "playwright-core";
import { mkdtempSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const adminUrl = env("PORTCULLIS_ADMIN_URL");
const shots = env("PORTCULLIS_SCREENSHOTS");
mkdirSync(shots, { recursive: true });

const profile = mkdtempSync(path.join(os.tmpdir(), "chromium-profile-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 800 },
});
try {
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(adminUrl + "/");
  await page.getByLabel("Token", { exact: true }).fill(env("PORTCULLIS_ADMIN_TOKEN"));
  await page.getByRole("button", { name: "Continue" }).click();
  await page.locator("tr[data-endpoint]").first().waitFor();
  await page.screenshot({ path: path.join(shots, "dashboard-endpoints-alerts.png"), fullPage: true });
  await page.goto(adminUrl + "/#/alerts");
  await page.locator("table.alerts").first().waitFor();
  await page.screenshot({ path: path.join(shots, "dashboard-alerts.png"), fullPage: true });
  process.stdout.write("screenshots taken\n");
} finally {
  await context.close();
}
