// The portal in Debian's chromium, headless. Run by api/tests/it/browser.rs, which starts
// `directory serve`, fills it and passes what it made through the environment.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const [BASE, STAFF, CUSTOMER, PROJECT, OTHER_PROJECT, VM, BEFORE_RESIZE, SHOTS] = [
  "BASE", "STAFF_TOKEN", "CUSTOMER_TOKEN", "PROJECT", "OTHER_PROJECT", "VM", "BEFORE_RESIZE", "SCREENSHOTS",
].map(env);

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
// Evaluated through the browser's debugging protocol, which the portal's CSP (rightly)
// does not let a page script do.
const AXE = readFileSync(fileURLToPath(new URL("./node_modules/axe-core/axe.min.js", import.meta.url)), "utf8");
/** Every accessibility rule axe-core finds broken, by page, as `page: rule (impact) × nodes`. */
const findings = [];

/** A page type looked at: checked by axe-core against WCAG 2.1 A and AA, then photographed. */
async function shot(page, name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }));
  for (const v of result.violations) {
    findings.push({ page: name, rule: v.id, impact: v.impact, nodes: v.nodes.length, targets: v.nodes.slice(0, 3).map((n) => n.target.join(" ")) });
  }
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
}
const opened = [];
const step = (name) => console.log(`step: ${name}`);

async function signIn(token, viewport = { width: 1280, height: 900 }, locale = "en-US") {
  const context = await browser.newContext({ viewport, timezoneId: "UTC", locale });
  const page = await context.newPage();
  opened.push(page);
  page.setDefaultTimeout(10_000);
  await page.goto(`${BASE}/`);
  await page.fill("input[name=token]", token);
  await page.click("#sign-in button[type=submit]");
  await page.waitForSelector("#sign-out");
  return page;
}

try {
  step("staff signs in and sees who they are");
  const staff = await signIn(STAFF);
  await staff.waitForSelector("#who:has-text('system:bootstrap')");
  await staff.waitForSelector("h1:has-text('Customers')");
  await shot(staff, "customers");

  step("searches a VM and opens it");
  await staff.fill("#search-text", "web-1");
  await staff.press("#search-text", "Enter");
  // Every step of a hit's path is a link: customer, project, sub-project.
  for (const step of ["Acme GmbH", "Shop", "Shop staging"]) {
    await staff.waitForSelector(`main ol.path a:text-is('${step}')`);
  }
  await shot(staff, "search");
  await staff.click("main td a:text-is('web-1')");
  await staff.waitForSelector("#vm-size:has-text('8 vCPU')");
  // Sizes in units people read, instants with their time zone.
  await staff.waitForSelector("main td.num span[title='10,100,000,000 bytes']:has-text('10.1 GB')");
  const finished = await staff.textContent("main h2:has-text('Backups') ~ table tbody td:nth-child(3)");
  if (!finished.includes("UTC")) throw new Error(`a backup's time says no time zone: ${finished}`);
  await staff.waitForSelector("svg.chart[role=img][aria-label^='Backup sizes of the 3 backups shown'][aria-label$='1 failed']");
  await shot(staff, "vm");

  step("follows the breadcrumbs up to the project and the customer");
  await staff.click("#crumbs a:has-text('Shop staging')");
  await staff.waitForSelector("h1:has-text('Shop staging')");
  await shot(staff, "project");
  await staff.click("#crumbs a:has-text('Acme GmbH')");
  await staff.waitForSelector("h1:has-text('Acme GmbH')");
  await shot(staff, "customer");

  step("pages through the customer's 27 people");
  await staff.waitForSelector("nav.pager:has-text('1–25 of 27')");
  await staff.click("nav.pager a:has-text('Next')");
  await staff.waitForSelector("nav.pager:has-text('26–27 of 27')");
  await staff.waitForSelector("main a:text-is('Tester 26')");
  await staff.goBack();
  await staff.waitForSelector("nav.pager:has-text('1–25 of 27')");

  step("opens an invoice and its PDF");
  await staff.click("main a:has-text('RE-2026-00001')");
  await staff.waitForSelector("h1:has-text('Invoice RE-2026-00001')");
  await shot(staff, "invoice");
  const [pdf, saved] = await Promise.all([
    staff.waitForResponse((r) => r.url().endsWith(".pdf")),
    staff.waitForEvent("download"),
    staff.click("main p a:has-text('PDF')"),
  ]);
  if (pdf.status() !== 200 || pdf.headers()["content-type"] !== "application/pdf") {
    throw new Error(`the PDF answered ${pdf.status()} ${pdf.headers()["content-type"]}`);
  }
  if (saved.suggestedFilename() !== "RE-2026-00001.pdf") throw new Error(`the PDF is saved as ${saved.suggestedFilename()}`);

  step("creates a monitor with an invalid status list and sees the error by the field");
  await staff.goto(`${BASE}/#/monitor-new/${PROJECT}`);
  await staff.fill("input[name=url]", "https://shop.example.com/health");
  await staff.fill("input[name=expectedStatus]", "200-,abc");
  await staff.click("#monitor-form button[type=submit]");
  await staff.waitForSelector(".field-error[data-for=expectedStatus]:not(:empty)");
  await shot(staff, "monitor-error");
  await staff.fill("input[name=expectedStatus]", "200-299,301");
  await staff.click("#monitor-form button[type=submit]");
  await staff.waitForSelector("main td:has-text('https://shop.example.com/health')");
  // The monitors' states at a glance: a tile each, and the counts in words.
  await staff.waitForSelector(".glance[role=img][aria-label^='Monitors: 1 '] .tile[title^='https://shop.example.com/health']");
  await shot(staff, "monitors");

  step("edits the monitor, then reads the project's SLA reports");
  await staff.click("main a:has-text('Edit')");
  await staff.waitForSelector("input[name=expectedStatus][value='200-299,301']");
  await staff.fill("input[name=intervalSeconds]", "30");
  await staff.click("#monitor-form button[type=submit]");
  await staff.waitForSelector("h1:has-text('Shop')");
  await staff.click("main a:has-text('SLA reports')");
  await staff.waitForSelector("h1:has-text('SLA')");
  await staff.waitForSelector("main:has-text('target met')");
  // The month's availability by day, as a picture with words for those who cannot see it.
  await staff.waitForSelector("svg.chart[role=img][aria-label^='Availability by day']");
  await shot(staff, "sla");

  step("schedules a release");
  await staff.click("#who a:has-text('Releases')");
  await staff.fill("#schedule-form input[name=isoWeek]", "2099-W99");
  await staff.fill("#schedule-form input[name=changelog]", "Kernel 6.12");
  await staff.click("#schedule-form button[type=submit]");
  await staff.waitForSelector(".field-error[data-for=isoWeek]:not(:empty)");
  await staff.fill("#schedule-form input[name=isoWeek]", "2099-W10");
  await staff.click("#schedule-form button[type=submit]");
  await staff.waitForSelector("main td:has-text('2099-W10')");
  await shot(staff, "releases");

  step("cancels that release with its button; the row then offers nothing more");
  const row = staff.locator("main tr", { hasText: "2099-W10" });
  staff.once("dialog", (dialog) => dialog.accept("Superseded by 2099-W11"));
  await row.locator("button:has-text('Cancel')").click();
  await staff.waitForSelector("main tr:has-text('2099-W10') td:has-text('CANCELLED')");
  if (await row.locator("button").count() !== 0) throw new Error("a cancelled release still offers buttons");

  step("views the VM as of before its resize");
  await staff.goto(`${BASE}/#/vm/${VM}`);
  await staff.waitForSelector("#vm-size:has-text('8 vCPU')");
  await staff.fill("#as-of-time", BEFORE_RESIZE);
  await staff.click("#as-of button[type=submit]");
  await staff.waitForSelector("#as-of-banner:not([hidden])");
  await staff.waitForSelector("#vm-size:has-text('2 vCPU')");
  await shot(staff, "vm-as-of");
  await staff.click("#as-of-clear");
  await staff.waitForSelector("#vm-size:has-text('8 vCPU')");

  step("sets the VM's roles on its page, where its node and its addresses show");
  await staff.waitForSelector("#vm-interfaces td:has-text('172.20.2.2/24')");
  await staff.fill("#roles-form input[name=roles]", "webgateway Bad");
  await staff.click("#roles-form button[type=submit]");
  await staff.waitForSelector(".field-error[data-for=roles]:not(:empty)");
  await staff.fill("#roles-form input[name=roles]", "webgateway sensuserver");
  await staff.click("#roles-form button[type=submit]");
  await staff.waitForSelector("#vm-roles:has-text('sensuserver, webgateway')");
  await shot(staff, "vm-node");

  step("reads the VM's history and the event log");
  await staff.goto(`${BASE}/#/history/${VM}`);
  await staff.waitForSelector("h1:has-text('History') + ol.timeline li");
  // Its breadcrumbs lead back to where the VM lives.
  for (const crumb of ["Acme GmbH", "Shop", "Shop staging", "web-1"]) await staff.waitForSelector(`#crumbs a:text-is('${crumb}')`);
  await shot(staff, "history");
  await staff.goto(`${BASE}/#/events?after=0`);
  await staff.waitForSelector("h1:has-text('Events from position 1')");
  await shot(staff, "events");

  step("staff open GraphiQL from the portal: served by the Directory, under its CSP, with their token");
  const foreign = [];
  const violations = [];
  staff.on("request", (r) => { if (!r.url().startsWith(BASE) && !r.url().startsWith("data:")) foreign.push(r.url()); });
  staff.on("console", (m) => { if (/Content Security Policy/i.test(m.text()) && /script|font|connect/i.test(m.text())) violations.push(m.text()); });
  await staff.click("#who a:has-text('GraphiQL')");
  await staff.waitForSelector(".graphiql-container");
  await staff.click(".graphiql-execute-button");
  await staff.waitForSelector(".result-window:has-text('system:bootstrap')");
  await shot(staff, "graphiql");
  if (foreign.length) throw new Error(`GraphiQL loaded from elsewhere: ${foreign.join(", ")}`);
  if (violations.length) throw new Error(`GraphiQL broke the CSP: ${violations.join(" | ")}`);

  step("a customer lands on their own customer and cannot reach another's project");
  const customer = await signIn(CUSTOMER);
  await customer.waitForSelector("h1:has-text('Acme GmbH')");
  // Home is a dashboard: monitors, this month's availability per project, backups with the
  // stale ones flagged, what comes up, and the invoices not yet due.
  await customer.waitForSelector("#card-monitors");
  await customer.waitForSelector("section:has(#card-sla) td a:text-is('Shop')");
  await customer.waitForSelector("section:has(#card-backups) td.failed:has-text('(stale)')");
  await customer.waitForSelector("section:has(#card-invoices) a:text-is('RE-2026-00001')");
  await shot(customer, "dashboard");
  // The token was issued without an expiry: it lives the default 90 days, and says so.
  const expiry = await customer.textContent("#token-expiry");
  const until = new Date(Date.now() + 90 * 24 * 3600 * 1000).toLocaleDateString();
  if (!expiry.includes("token valid until") || !expiry.includes(until)) throw new Error(`token expiry shown as ${expiry}, not ${until}`);
  await customer.goto(`${BASE}/#/project/${OTHER_PROJECT}`);
  await customer.waitForSelector("h1:has-text('Not found')");
  await shot(customer, "customer-not-found");

  step("the customer's page on a phone, and keyboard navigation");
  const phone = await signIn(CUSTOMER, { width: 390, height: 844 });
  await phone.waitForSelector("h1:has-text('Acme GmbH')");
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
  if (overflow) throw new Error("the customer page scrolls sideways on a phone");
  await shot(phone, "customer-phone");
  // Every control of the page is reached by Tab from the top.
  const controls = await phone.evaluate(() => {
    const all = [...document.querySelectorAll("a[href], button, input, select, textarea, [tabindex]:not([tabindex='-1'])")];
    return all.filter((el) => !el.disabled && el.getClientRects().length > 0).map((el, i) => { el.dataset.control = i; return String(i); });
  });
  await phone.evaluate(() => document.activeElement?.blur());
  const reached = new Set();
  // A date and time field takes a Tab for each of its parts: press on until all are reached,
  // or far more often than the page has stops.
  for (let i = 0; i < 100 && reached.size < controls.length; i++) {
    await phone.keyboard.press("Tab");
    const at = await phone.evaluate(() => document.activeElement?.dataset.control ?? null);
    if (at !== null) reached.add(at);
  }
  const missed = controls.filter((c) => !reached.has(c));
  if (controls.length < 10 || missed.length) {
    const which = await phone.evaluate((m) => m.map((c) => document.querySelector(`[data-control="${c}"]`).outerHTML.slice(0, 120)), missed);
    throw new Error(`${missed.length} of ${controls.length} controls not reached by Tab: ${which.join(" | ")}`);
  }
  await phone.focus("#search-text");
  await phone.keyboard.type("Shop");
  await phone.keyboard.press("Enter");
  await phone.waitForSelector("h1:has-text('Search: Shop')");

  step("a customer whose browser speaks German is answered in German, and may switch");
  const german = await signIn(CUSTOMER, { width: 1280, height: 900 }, "de-DE");
  await german.waitForSelector("main p:has-text('Ihre Dienste auf einen Blick')");
  if (await german.getAttribute("html", "lang") !== "de") throw new Error("the German page does not say it is German");
  await german.waitForSelector("#card-monitors:text-is('Monitore')");
  await german.waitForSelector("section:has(#card-backups) td.failed:has-text('(veraltet)')");
  // Dates, months and amounts as German readers write them.
  await german.waitForSelector("#card-sla:has-text('Verfügbarkeit im')");
  const due = await german.textContent("section:has(#card-invoices) tbody td:nth-child(3)");
  if (!/^\d{1,2}\.\d{1,2}\.\d{4}, \d{2}:\d{2} UTC$/.test(due.trim())) throw new Error(`a German date reads ${due}`);
  const gross = await german.textContent("section:has(#card-invoices) tbody td.num");
  if (!/^\d{1,3}(\.\d{3})*,\d{2}\u00a0€$/.test(gross.trim())) throw new Error(`a German amount reads ${gross}`);
  await shot(german, "dashboard-de");
  await german.click("main a:has-text('Projekte, Personen und alle Rechnungen')");
  await german.waitForSelector("main h2:text-is('Rechnungen')");
  await shot(german, "customer-de");
  // The history, too, is told in German, newest first.
  await german.click("main a:text-is('Verlauf')");
  await german.waitForSelector("h1:has-text('Verlauf') + ol.timeline li:has-text('Kunde Acme GmbH (DE) angelegt')");
  await german.waitForSelector("#crumbs a:text-is('Acme GmbH')");
  await german.goBack();
  await german.waitForSelector("main h2:text-is('Rechnungen')");
  await german.selectOption("#lang", "en");
  await german.waitForSelector("main h2:text-is('Invoices')");
  if (await german.getAttribute("html", "lang") !== "en") throw new Error("the switched page does not say it is English");
  await german.reload();
  await german.waitForSelector("main h2:text-is('Invoices')");
  await german.waitForSelector("label[for=as-of-time]:text-is('View as of')");

  step("GraphiQL is for staff: a customer's token is told so");
  await customer.goto(`${BASE}/graphql`);
  await customer.waitForSelector(".notice:has-text('GraphiQL is for staff')");
  step("no serious or critical accessibility violation on any page type");
  for (const f of findings) console.log(`axe: ${f.page}: ${f.rule} (${f.impact}) × ${f.nodes}: ${f.targets.join(", ")}`);
  const grave = findings.filter((f) => f.impact === "serious" || f.impact === "critical");
  if (grave.length) throw new Error(`${grave.length} serious or critical accessibility violations (listed above)`);
  console.log(`axe: ${new Set(findings.map((f) => f.page)).size} of the pages with findings, ${findings.length} findings, none serious or critical`);
  console.log("all steps passed");
} catch (e) {
  console.error(`failed: ${e.message}`);
  for (const [i, page] of opened.entries()) {
    await page.screenshot({ path: `${SHOTS}/failure-${i}.png`, fullPage: true }).catch(() => {});
    console.error(`page ${i} at ${page.url()}: ${(await page.textContent("main").catch(() => "")).slice(0, 500)}`);
  }
  process.exitCode = 1;
} finally {
  await browser.close();
}
