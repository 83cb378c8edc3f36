// The dashboard's browser test, run by tests/integration/dashboard_browser_test.cpp, which starts
// Portcullis and the servers around it and passes, in the environment: PORTCULLIS_ADMIN_URL,
// PORTCULLIS_ADMIN_TOKEN, PORTCULLIS_UPSTREAM, PORTCULLIS_GOOD_CERT/KEY (app.example.com),
// PORTCULLIS_BAD_CERT/KEY (other names), PORTCULLIS_SCREENSHOTS (a folder) and
// PORTCULLIS_PROFILE_PARENT (where the fresh browser profile goes, and where the test drops
// "records-created"). It prints "waiting for the records" once it has seen them missing; the test
// then creates them in the customer's DNS server and drops the file. Debian's Chromium, headless;
// no browser is downloaded. Every wait is on a condition, with a deadline; exit code 0 when every
// step passed.
import { chromium } from "playwright-core";
import { existsSync, mkdtempSync, mkdirSync, readFileSync, watch } from "node:fs";
import path from "node:path";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const adminUrl = env("PORTCULLIS_ADMIN_URL");
const token = env("PORTCULLIS_ADMIN_TOKEN");
const shots = env("PORTCULLIS_SCREENSHOTS");
mkdirSync(shots, { recursive: true });

const STEP_DEADLINE = 15_000;      // one page update
const RECORDS_DEADLINE = 30_000;   // the test creating the records once asked
const MANAGED_DEADLINE = 60_000;   // the order through Pebble, seen by the page's own refresh

function step(text) {
  process.stdout.write(`step: ${text}\n`);
}
function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}
// Resolves once `file` exists (told by inotify, no polling); rejects after `deadline` ms.
function fileAppears(file, deadline) {
  return new Promise((resolve, reject) => {
    const watcher = watch(path.dirname(file), () => {
      if (existsSync(file)) done(null);
    });
    const timer = setTimeout(() => done(new Error(`${path.basename(file)} did not appear within ${deadline} ms`)), deadline);
    function done(error) {
      clearTimeout(timer);
      watcher.close();
      if (error) reject(error); else resolve();
    }
    if (existsSync(file)) done(null);
  });
}

const work = env("PORTCULLIS_PROFILE_PARENT");
const profile = mkdtempSync(path.join(work, "chromium-profile-"));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 800 },
  permissions: ["clipboard-read", "clipboard-write"],
});
const failures = [];
try {
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(STEP_DEADLINE);
  const origin = new URL(adminUrl).origin;
  // No request leaves the admin listener, and the policy blocks nothing the page does.
  page.on("request", (r) => {
    if (!r.url().startsWith(origin + "/") && !r.url().startsWith("data:")) failures.push(`request to ${r.url()}`);
  });
  page.on("console", (m) => {
    if (/Content Security Policy|Uncaught|TypeError|ReferenceError/.test(m.text())) failures.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => failures.push(`page error: ${e.message}`));
  const shot = async (name) => {
    await page.screenshot({ path: path.join(shots, name), fullPage: true });
    step(`screenshot ${name}`);
  };

  // The static files need no token and carry the security headers.
  const home = await page.goto(adminUrl + "/");
  check(home.status() === 200, `GET / is ${home.status()}`);
  check(home.headers()["content-type"].startsWith("text/html"), "GET / is text/html");
  check(/script-src 'self'/.test(home.headers()["content-security-policy"] || ""), "GET / has a CSP");

  step("enter the token");
  await page.getByLabel("Token", { exact: true }).fill(token);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.locator('tr[data-endpoint="docs"]').waitFor();
  check(await page.evaluate(() => sessionStorage.getItem("portcullis.admin-token")) === token, "token in sessionStorage");
  await page.reload();
  await page.locator('tr[data-endpoint="docs"]').waitFor();  // kept: no second prompt
  check(!(await page.locator("#login").isVisible()), "no token prompt after a reload");

  step("create an endpoint");
  await page.getByRole("link", { name: "New endpoint" }).first().click();
  await page.getByLabel("Id (optional)", { exact: true }).fill("app");
  await page.getByLabel("Hostnames", { exact: true }).fill("app.example.com");
  await page.getByLabel("Upstreams", { exact: true }).fill(env("PORTCULLIS_UPSTREAM"));
  await shot("dashboard-new-endpoint.png");
  await page.getByRole("button", { name: "Create endpoint" }).click();
  await page.waitForURL(/#\/endpoints\/app$/);

  step("see its records and their state");
  const records = page.locator("table.records tbody tr");
  await records.first().waitFor();
  check(await records.count() === 2, "two records for an external hostname");
  const traffic = page.locator('tr[data-record="traffic:app.example.com"]');
  const challenge = page.locator('tr[data-record="challenge:_acme-challenge.app.example.com"]');
  check(await traffic.getAttribute("data-state") !== "ok", "the traffic record is not there yet");
  check(await challenge.getAttribute("data-state") === "missing", "the challenge record is missing");
  check((await challenge.textContent()).includes("✗"), "a missing record shows ✗");
  check((await challenge.textContent()).includes("acme.app.edge.example.net."), "the challenge target is shown");
  await challenge.getByRole("button", { name: /Copy/ }).click();
  check(await page.evaluate(() => navigator.clipboard.readText()) ===
    "_acme-challenge.app.example.com. CNAME acme.app.edge.example.net.", "the copy button copies the record");
  await shot("dashboard-records.png");

  step("upload a transitional certificate for other names, with another certificate's key");
  await page.getByLabel("Certificate chain (PEM)", { exact: true }).fill(readFileSync(env("PORTCULLIS_BAD_CERT"), "utf8"));
  await page.getByLabel("Private key (PEM, unencrypted)", { exact: true }).fill(readFileSync(env("PORTCULLIS_BAD_KEY"), "utf8"));
  await page.getByRole("button", { name: "Upload" }).click();
  const error = page.locator("#upload-form .errors");
  await error.waitFor();
  const errorText = await error.textContent();
  check(errorText.includes("certificate") && errorText.includes("app.example.com"),
    `the inline error names the field and the uncovered name: ${errorText}`);
  check(errorText.includes("private_key") && errorText.includes("does not match"),
    `the same error names the key that does not match: ${errorText}`);
  check(await page.getByLabel("Certificate chain (PEM)", { exact: true }).getAttribute("aria-invalid") === "true", "the certificate field is marked invalid");
  check(await page.getByLabel("Private key (PEM, unencrypted)", { exact: true }).getAttribute("aria-invalid") === "true", "the key field is marked invalid");
  await error.scrollIntoViewIfNeeded();
  await shot("dashboard-upload-error.png");

  step("upload the certificate app.example.com uses today");
  // From files, as a customer would pick them.
  await page.locator("#upload-certificate-file").setInputFiles(env("PORTCULLIS_GOOD_CERT"));
  await page.locator("#upload-key-file").setInputFiles(env("PORTCULLIS_GOOD_KEY"));
  // The fields held the refused upload: wait until both hold the files' text.
  await page.waitForFunction(([cert, key]) =>
    document.getElementById("upload-certificate").value === cert && document.getElementById("upload-key").value === key,
  [readFileSync(env("PORTCULLIS_GOOD_CERT"), "utf8"), readFileSync(env("PORTCULLIS_GOOD_KEY"), "utf8")]);
  // The test CA is a private one: not in the system trust store.
  await page.getByLabel("Accept a chain from a private CA (not in the system trust store)").check();
  await page.getByRole("button", { name: "Upload" }).click();
  await page.locator("#upload-form .notice").waitFor();
  await page.locator('tr[data-hostname="app.example.com"][data-source="transitional"]').waitFor();
  check(await page.locator("#upload-key").inputValue() === "", "the key is cleared after the upload");
  await shot("dashboard-transitional.png");

  const timeline = page.locator("table.timeline tbody tr");
  await timeline.first().waitFor();
  check((await timeline.first().getAttribute("data-reason")) === "transitional uploaded", "the timeline's newest entry is the upload");

  process.stdout.write("waiting for the records\n");
  await fileAppears(path.join(work, "records-created"), RECORDS_DEADLINE);
  step("re-check: both records are in place");
  const answered = page.waitForResponse((r) => r.url().endsWith("/dns"));
  await page.getByRole("button", { name: "Re-check" }).click();
  check((await answered).status() === 200, "the re-check answers 200");
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll("table.records tbody tr")];
    return rows.length === 2 && rows.every((r) => r.dataset.state === "ok");
  });
  check((await traffic.textContent()).includes("✓"), "a record in place shows ✓");
  check((await challenge.textContent()).includes("✓"), "the challenge record shows ✓");

  step("renew now and watch the certificate turn managed");
  await page.getByRole("button", { name: "Renew now" }).click();
  // The page refreshes the certificate by itself while the attempt runs.
  const managedRow = page.locator('tr[data-hostname="app.example.com"][data-source="managed"]');
  await managedRow.waitFor({ timeout: MANAGED_DEADLINE });
  check((await managedRow.textContent()).toLowerCase().includes("pebble"), "the managed certificate is issued by Pebble");
  await page.locator('table.timeline tbody tr[data-reason="issued"]').first().waitFor();
  const reasons = await timeline.evaluateAll((rows) => rows.map((r) => r.dataset.reason));
  check(reasons[0] === "issued" && reasons[1] === "transitional uploaded",
    `the timeline, newest first, is issued then transitional uploaded: ${reasons.join(", ")}`);
  await page.locator("#dns-title").scrollIntoViewIfNeeded();
  await shot("dashboard-managed.png");

  step("the endpoints list");
  await page.getByRole("link", { name: "Endpoints" }).click();
  const row = page.locator('tr[data-endpoint="app"]');
  await row.waitFor();
  check((await row.textContent()).includes("managed"), "the list shows the managed source");
  await shot("dashboard-endpoints.png");

  step("phone width");
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(adminUrl + "/#/endpoints/app");
  await page.locator("table.records tbody tr").first().waitFor();
  await page.locator('tr[data-source="managed"]').first().waitFor();
  check(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), "no horizontal scroll at 390 px");
  await shot("dashboard-phone.png");
} catch (e) {
  failures.push(e.stack || String(e));
} finally {
  await context.close();
}
if (failures.length) {
  process.stderr.write(failures.join("\n") + "\n");
  process.exit(1);
}
process.stdout.write("dashboard test passed\n");
