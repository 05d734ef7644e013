// The portal and admin backend: a plain client of /graphql with the signed-in person's
// token. Pages are addressed by the URL fragment (#/customer/<id>, …) so links and the
// back button work; "as of" re-asks every query with asOf. Every word a person reads goes
// through `t` (i18n.js), so the portal speaks German or English.

import { t, lang, languages, setLang, locale, refusal } from "./i18n.js";

const $ = (sel) => document.querySelector(sel);
const main = $("#main");

const session = {
  get token() { return sessionStorage.getItem("token"); },
  set token(t) { t ? sessionStorage.setItem("token", t) : sessionStorage.removeItem("token"); },
  get asOf() { return sessionStorage.getItem("asOf"); },
  set asOf(t) { t ? sessionStorage.setItem("asOf", t) : sessionStorage.removeItem("asOf"); },
  me: null,
};

/** Escapes text for HTML. */
function h(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

/** A key's fingerprint; a key that cannot receive secrets says so, and why. */
function keyLabel(k) {
  if (k.usableForSecrets) return h(k.fingerprint);
  const skipped = t("{algorithm}: skipped for secrets — {reason}", { algorithm: h(k.algorithm), reason: h(k.unusableForSecretsReason) });
  return `${h(k.fingerprint)} <span class="warn" title="${h(k.unusableForSecretsReason)}">(${skipped})</span>`;
}

/** The buttons staff have for a release in its state: before its window it may be vetoed,
 * decided or cancelled; once the window opened an approved release is marked rolled out. */
function releaseActions(r) {
  const open = new Date(r.windowStart) <= new Date();
  if (r.state === "CANCELLED" || r.state === "ROLLED_OUT") return "";
  if (open) return r.state === "APPROVED" ? `<button data-rolled-out="${r.id}">${t("Mark rolled out")}</button>` : "";
  const decide = r.decision ? "" : `<button data-veto="${r.id}">${t("Veto")}</button> <button data-decide="${r.id}" data-approve="true">${t("Approve")}</button> <button data-decide="${r.id}" data-approve="false">${t("Hold")}</button> `;
  return `${decide}<button data-cancel="${r.id}">${t("Cancel")}</button>`;
}

class ApiError extends Error {
  constructor(errors) {
    super(errors.map(refusal).join("; "));
    this.errors = errors;
  }
}

/** A fetch that does what a 503 asks: waits `Retry-After` seconds and asks again, a few
 * times, before it gives the answer to the caller. */
async function fetchRetrying(url, options, attempts = 4) {
  for (let attempt = 1; ; attempt++) {
    const res = await fetch(url, options);
    if (res.status !== 503 || attempt === attempts) return res;
    const wait = Math.min(Number(res.headers.get("retry-after")) || 1, 10);
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
}

/** Runs a GraphQL operation; `asOf` is added to the variables while "as of" is active. */
async function gql(query, variables = {}, { withAsOf = true } = {}) {
  if (withAsOf && session.asOf) variables = { ...variables, t: session.asOf };
  const res = await fetchRetrying("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${session.token}` },
    body: JSON.stringify({ query, variables }),
  });
  if (res.status === 401) {
    session.token = null;
    render();
    throw new ApiError([{ message: t("Signed out."), extensions: { code: "UNAUTHENTICATED" } }]);
  }
  const body = await res.json();
  if (body.errors) throw new ApiError(body.errors);
  return body.data;
}

function crumbs(items) {
  $("#crumbs").innerHTML = items.length
    ? `<ol>${items.map(([label, href]) => `<li>${href ? `<a href="${href}">${h(label)}</a>` : `<span aria-current="page">${h(label)}</span>`}</li>`).join("")}</ol>`
    : "";
}

/** An instant in the portal's language and the browser's time zone, naming the zone. */
function when(t) {
  if (!t) return "—";
  const options = { year: "numeric", month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" };
  return new Date(t).toLocaleString(locale(), options);
}

/** A month (`2026-03`) as its name reads (`March 2026`, `März 2026`). */
function monthName(month) {
  return new Date(`${month}-01T00:00:00Z`).toLocaleDateString(locale(), { year: "numeric", month: "long", timeZone: "UTC" });
}

/** A decimal from the API (`"1234.50"`) in the portal's language (`1,234.50`, `1.234,50`),
 * exactly: the string is formatted, not a float made of it. */
function decimal(text) {
  if (text === null || text === undefined || text === "") return "—";
  const digits = (String(text).split(".")[1] ?? "").length;
  return new Intl.NumberFormat(locale(), { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(String(text));
}
// A no-break space: an amount never breaks from its unit in a narrow column.
const money = (text) => `${decimal(text)}\u00a0€`;
const percent = (text) => `${decimal(text)}\u00a0%`;

/** A size in decimal units as people read them (`10.1 GB`); the exact bytes in its title. */
function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let value = Number(n);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const shown = value.toLocaleString(locale(), { maximumFractionDigits: unit ? 1 : 0 });
  return `<span title="${t("{n} bytes", { n: Number(n).toLocaleString(locale()) })}">${shown} ${units[unit]}</span>`;
}

/** Breadcrumbs of a project: customer, then the projects from the root down. */
async function projectCrumbs(projectId) {
  const chain = [];
  let id = projectId;
  while (id) {
    const d = await gql("query($p: ID!, $t: DateTime) { project(id: $p, asOf: $t) { id name parentId customerId } }", { p: id });
    if (!d.project) break;
    chain.unshift(d.project);
    id = d.project.parentId;
  }
  const items = [];
  if (chain.length) {
    const c = await gql("query($c: ID!, $t: DateTime) { customer(id: $c, asOf: $t) { id name } }", { c: chain[0].customerId });
    if (c.customer) items.push([c.customer.name, `#/customer/${c.customer.id}`]);
  }
  for (const p of chain) items.push([p.name, `#/project/${p.id}`]);
  return items;
}

/** Breadcrumbs of any entity, found by the event that created it: the path down to it, so
 * that its history page leads back to where it lives. */
async function entityCrumbs(id, created) {
  const vars = { e: id };
  switch (created) {
    case "CustomerRegistered": {
      const d = await gql("query($e: ID!, $t: DateTime) { customer(id: $e, asOf: $t) { id name } }", vars);
      return d.customer ? [[d.customer.name, `#/customer/${id}`]] : [];
    }
    case "PersonRegistered": {
      const d = await gql("query($e: ID!, $t: DateTime) { person(id: $e, asOf: $t) { name customerId } }", vars);
      if (!d.person?.customerId) return d.person ? [[d.person.name]] : [];
      const c = await gql("query($c: ID!, $t: DateTime) { customer(id: $c, asOf: $t) { id name } }", { c: d.person.customerId });
      return [...(c.customer ? [[c.customer.name, `#/customer/${c.customer.id}`]] : []), [d.person.name]];
    }
    case "ProjectCreated":
      return projectCrumbs(id);
    case "VmProvisioned": {
      const d = await gql("query($e: ID!, $t: DateTime) { vm(id: $e, asOf: $t) { name projectId } }", vars);
      return d.vm ? [...(await projectCrumbs(d.vm.projectId)), [d.vm.name, `#/vm/${id}`]] : [];
    }
    case "HttpMonitorCreated": {
      const d = await gql("query($e: ID!, $t: DateTime) { httpMonitor(id: $e, asOf: $t) { projectId url } }", vars);
      return d.httpMonitor ? [...(await projectCrumbs(d.httpMonitor.projectId)), [d.httpMonitor.url, `#/monitor-edit/${id}`]] : [];
    }
    case "ReleaseScheduled":
      return [[t("Releases"), "#/releases"]];
    default:
      return [];
  }
}

/** A bar chart as plain SVG: `values` (numbers, null for none) over `labels`, from `low` to
 * `high`, each bar in the `bad` colour when `isBad` says so; `summary` is what a screen
 * reader hears instead, and each bar's title what a pointer shows. */
function bars({ values, labels, low, high, isBad = () => false, summary, titles, line }) {
  const [w, hgt, pad] = [640, 160, 24];
  const step = (w - pad) / Math.max(values.length, 1);
  const y = (v) => hgt - pad - ((Math.min(Math.max(v, low), high) - low) / (high - low || 1)) * (hgt - 2 * pad);
  // A bad value shows at least a sliver, so that a failure at zero is seen.
  const top = (v) => (isBad(v) ? Math.min(y(v), hgt - pad - 4) : y(v));
  const rects = values.map((v, i) => v === null ? "" : `<rect x="${pad + i * step + 1}" y="${top(v)}" width="${Math.max(step - 2, 1)}" height="${hgt - pad - top(v)}" class="${isBad(v) ? "bar bad" : "bar"}"><title>${h(titles[i])}</title></rect>`).join("");
  const ticks = labels.map((l, i) => (i % Math.ceil(labels.length / 10) === 0 ? `<text x="${pad + i * step + step / 2}" y="${hgt - 6}" text-anchor="middle">${h(l)}</text>` : "")).join("");
  const target = line === undefined ? "" : `<line x1="${pad}" x2="${w}" y1="${y(line)}" y2="${y(line)}" class="target"/>`;
  const number = (v) => v.toLocaleString(locale());
  return `<svg class="chart" viewBox="0 0 ${w} ${hgt}" role="img" aria-label="${h(summary)}">
    <text x="0" y="${pad - 8}">${h(number(high))}</text><text x="0" y="${hgt - pad}">${h(number(low))}</text>
    ${rects}${target}${ticks}</svg>`;
}

/** Monitor states at a glance: a tile per monitor, coloured by its state, and the counts. */
function glance(monitors) {
  if (!monitors.length) return "";
  const counts = {};
  for (const m of monitors) counts[m.state] = (counts[m.state] ?? 0) + 1;
  const said = Object.entries(counts).map(([state, n]) => `${n} ${t(state).toLowerCase()}`).join(" · ");
  return `<div class="glance" role="img" aria-label="${t("Monitors: {counts}", { counts: h(said) })}">${monitors.map((m) => `<span class="tile state-${h(m.state)}" title="${h(m.url)}: ${h(t(m.state))}"></span>`).join("")}
    <span class="muted">${h(said)}</span></div>`;
}

/** The month's availability by day, against the target, as the PDF shows it. */
function daily(r, month) {
  // Days still to come in the current month have no availability yet: no bar.
  const today = new Date(session.asOf ?? Date.now());
  const current = month === today.toISOString().slice(0, 7);
  const values = r.dailyAvailability.map((v, i) => (current && i + 1 > today.getUTCDate() ? null : Number(v)));
  const days = values.map((v, i) => [v, i]).filter(([v]) => v !== null);
  if (!days.length) return "";
  const target = Number(r.targetPercent);
  const [worstValue, worst] = days.reduce((a, d) => (d[0] < a[0] ? d : a));
  const low = Math.max(0, Math.floor(Math.min(target - 1, worstValue)));
  const pct = (v) => `${v.toLocaleString(locale(), { maximumFractionDigits: 3 })} %`;
  const summary = t("Availability by day in {month}: lowest {worst} on day {day}, {below} of {days} days below the target of {target}", {
    month: monthName(month), worst: pct(worstValue), day: worst + 1, below: days.filter(([v]) => v < target).length, days: days.length, target: pct(target),
  });
  const titles = values.map((v, i) => (v === null ? t("Day {day}: to come", { day: i + 1 }) : t("Day {day}: {value}", { day: i + 1, value: pct(v) })));
  return `<h2>${t("By day")}</h2>${bars({ values, labels: values.map((_, i) => i + 1), low, high: 100, line: target, isBad: (v) => v < target, summary, titles })}`;
}

/** The backups' sizes over time (oldest first), failed ones marked. */
function sizes(nodes) {
  const shown = [...nodes].reverse();
  if (shown.length < 2) return "";
  const gb = shown.map((n) => (n.status === "SUCCEEDED" && n.sizeBytes != null ? Number(n.sizeBytes) / 1e9 : null));
  const known = gb.filter((v) => v !== null);
  const high = Math.max(1, ...known);
  const failed = shown.filter((n) => n.status !== "SUCCEEDED").length;
  const size = (v) => `${v.toLocaleString(locale(), { minimumFractionDigits: 1, maximumFractionDigits: 1 })} GB`;
  const range = known.length ? t("{low} to {high}", { low: size(Math.min(...known)), high: size(high) }) : t("none succeeded");
  const summary = t("Backup sizes of the {n} backups shown: {range}", { n: shown.length, range }) + (failed ? t(", {n} failed", { n: failed }) : "");
  const titles = shown.map((n, i) => `${when(n.finishedAt)}: ${gb[i] === null ? t(n.status) : size(gb[i])}`);
  return bars({ values: gb.map((v) => (v === null ? 0 : v)), labels: shown.map((n) => new Date(n.finishedAt).toLocaleDateString(locale(), { month: "numeric", day: "numeric" })), low: 0, high: Number(high.toFixed(1)),
    isBad: (v) => v === 0, summary, titles });
}

/** One page of a long list: the items of page `?<name>=n` (25 a page) and the links to the
 * others, in the current address so that back and forward work. */
function paged(items, params, name, size = 25) {
  const count = Math.max(1, Math.ceil(items.length / size));
  const page = Math.min(count, Math.max(1, Number(params.get(name)) || 1));
  const shown = items.slice((page - 1) * size, page * size);
  if (count === 1) return { shown, nav: "" };
  const [path] = location.hash.split("?");
  const to = (n) => {
    const next = new URLSearchParams(params);
    next.set(name, n);
    return `${path}?${next}`;
  };
  const range = t("{first}–{last} of {total}", { first: (page - 1) * size + 1, last: (page - 1) * size + shown.length, total: items.length });
  const nav = `<nav class="pager" aria-label="${t("Pages")}"><span class="muted">${range}</span>
    ${page > 1 ? `<a href="${to(page - 1)}">${t("Previous")}</a>` : ""}${page < count ? ` <a href="${to(page + 1)}">${t("Next")}</a>` : ""}</nav>`;
  return { shown, nav };
}

const yesNo = (yes) => (yes ? t("yes") : t("no"));

const pages = {
  async home(params) {
    if (session.me?.customerId) return pages.dashboard(params, session.me.customerId);
    return pages.customers(params);
  },

  /** A customer's home: whether their services are fine, at a glance. */
  async dashboard(params, id) {
    const month = (session.asOf ? new Date(session.asOf) : new Date()).toISOString().slice(0, 7);
    const d = await gql(
      `query($c: ID!, $t: DateTime) { customer(id: $c, asOf: $t) { id name projects { id name archived } }
        invoices(customerId: $c, asOf: $t) { id number kind period gross cancelled dueDate pdfUrl }
        releases(asOf: $t) { channel isoWeek windowStart state } }`,
      { c: id },
    );
    const c = d.customer;
    if (!c) return notFound(t("There is no such customer, or it is not yours to see."));
    crumbs([[c.name]]);
    // Each project the person may see; one they may not is left out, not an error.
    const projects = (await Promise.all(c.projects.filter((p) => !p.archived).map(async (p) => {
      try {
        const o = await gql(
          `query($p: ID!, $m: String!, $t: DateTime) {
            infrastructureOverview(projectId: $p, asOf: $t) { monitors { id url state } backupHealth { vm { id name } lastGoodBackupAt stale } upcomingMaintenance { start end reason projectId } }
            slaReport(projectId: $p, month: $m, asOf: $t) { availabilityPercent targetPercent breached } }`,
          { p: p.id, m: month },
        );
        return o.infrastructureOverview ? { ...p, ...o.infrastructureOverview, sla: o.slaReport } : null;
      } catch {
        return null;
      }
    }))).filter(Boolean);
    const monitors = projects.flatMap((p) => p.monitors);
    const down = monitors.filter((m) => m.state === "DOWN");
    const backups = projects.flatMap((p) => p.backupHealth.map((b) => ({ ...b, project: p })));
    const stale = backups.filter((b) => b.stale);
    const now = new Date(session.asOf ?? Date.now());
    const maintenance = [...new Map(projects.flatMap((p) => p.upcomingMaintenance).map((m) => [`${m.start}|${m.reason}`, m])).values()]
      .sort((a, b) => a.start.localeCompare(b.start));
    const releases = d.releases.filter((r) => new Date(r.windowStart) > now && r.state !== "CANCELLED");
    const open = d.invoices.filter((i) => !i.cancelled && i.kind === "INVOICE" && i.dueDate && new Date(i.dueDate) >= now);
    const monitorsSaid = down.length ? t("{n} down", { n: down.length }) : monitors.every((m) => m.state === "UP") ? t("All up") : t("None down");
    const backupsSaid = stale.length ? t("{stale} of {n} stale", { stale: stale.length, n: backups.length }) : backups.length ? t("All fresh") : t("No VMs");
    main.innerHTML = `<h1>${h(c.name)}</h1>
      <p class="muted">${t("Your services at a glance")} · <a href="#/customer/${c.id}">${t("Projects, people and all invoices")}</a></p>
      <div class="cards">
        <section class="card ${down.length ? "bad" : "good"}" aria-labelledby="card-monitors"><h2 id="card-monitors">${t("Monitors")}</h2>
          ${monitors.length ? `<p class="big">${monitorsSaid}</p>${glance(monitors)}
            ${down.length ? `<ul>${down.map((m) => `<li class="failed">${h(m.url)}</li>`).join("")}</ul>` : ""}` : `<p class="muted">${t("No monitors.")}</p>`}</section>
        <section class="card ${projects.some((p) => p.sla?.breached) ? "bad" : "good"}" aria-labelledby="card-sla"><h2 id="card-sla">${t("Availability in {month}", { month: h(monthName(month)) })}</h2>
          <table><thead><tr><th>${t("Project")}</th><th class="num">${t("Availability")}</th><th class="num">${t("Target")}</th></tr></thead><tbody>
          ${projects.map((p) => `<tr><td><a href="#/sla/${p.id}?month=${month}">${h(p.name)}</a></td><td class="num ${p.sla?.breached ? "failed" : "state-UP"}">${p.sla ? percent(p.sla.availabilityPercent) : "—"}</td><td class="num">${p.sla ? percent(p.sla.targetPercent) : "—"}</td></tr>`).join("") || `<tr><td colspan="3" class="muted">${t("No projects.")}</td></tr>`}
          </tbody></table></section>
        <section class="card ${stale.length ? "bad" : "good"}" aria-labelledby="card-backups"><h2 id="card-backups">${t("Backups")}</h2>
          <p class="big">${backupsSaid}</p>
          <table><thead><tr><th>${t("VM")}</th><th>${t("Last good backup")}</th></tr></thead><tbody>
          ${backups.map((b) => `<tr><td><a href="#/vm/${b.vm.id}">${h(b.vm.name)}</a></td><td class="${b.stale ? "failed" : ""}">${when(b.lastGoodBackupAt)}${b.stale ? ` ${t("(stale)")}` : ""}</td></tr>`).join("")}
          </tbody></table></section>
        <section class="card" aria-labelledby="card-upcoming"><h2 id="card-upcoming">${t("Coming up")}</h2>
          <ul>${maintenance.map((m) => `<li>${t("Maintenance {start} – {end}: {reason}", { start: when(m.start), end: when(m.end), reason: h(m.reason) })}</li>`).join("")}
          ${releases.map((r) => `<li>${t("Release {channel} {week}: {window}", { channel: h(r.channel), week: h(r.isoWeek), window: when(r.windowStart) })}</li>`).join("")}</ul>
          ${maintenance.length + releases.length ? "" : `<p class="muted">${t("Nothing announced.")}</p>`}</section>
        <section class="card" aria-labelledby="card-invoices"><h2 id="card-invoices">${t("Open invoices")}</h2>
          ${open.length ? `<table><thead><tr><th>${t("Number")}</th><th class="num">${t("Gross")}</th><th>${t("Due")}</th></tr></thead><tbody>
          ${open.map((i) => `<tr><td><a href="#/invoice/${i.id}">${h(i.number)}</a> · <a data-auth href="${i.pdfUrl}">PDF</a></td><td class="num">${money(i.gross)}</td><td>${when(i.dueDate)}</td></tr>`).join("")}
          </tbody></table>` : `<p class="muted">${t("None due.")}</p>`}</section>
      </div>`;
  },

  async customers(params) {
    crumbs([[t("Customers")]]);
    const after = params.get("after");
    const d = await gql(
      "query($a: String, $t: DateTime) { customers(first: 25, after: $a, asOf: $t) { nodes { id name country closed } pageInfo { hasNextPage endCursor } totalCount } }",
      { a: after },
    );
    const c = d.customers;
    main.innerHTML = `<h1>${t("Customers")} <span class="muted">(${c.totalCount})</span></h1>
      <table><thead><tr><th>${t("Name")}</th><th>${t("Country")}</th><th>${t("Status")}</th></tr></thead><tbody>
      ${c.nodes.map((n) => `<tr><td><a href="#/customer/${n.id}">${h(n.name)}</a></td><td>${h(n.country)}</td><td>${n.closed ? t("closed") : t("active")}</td></tr>`).join("")}
      </tbody></table>
      ${c.pageInfo.hasNextPage ? `<a href="#/customers?after=${encodeURIComponent(c.pageInfo.endCursor)}">${t("Next page")}</a>` : ""}`;
  },

  async customer(params, id) {
    const d = await gql(
      `query($c: ID!, $t: DateTime) {
        customer(id: $c, asOf: $t) { id name country vatId billingAddress
          projects { id name parentId archived }
          people { id name email roles { projectId role } sshKeys { fingerprint revokedAt } } }
        invoices(customerId: $c, asOf: $t) { id number kind period gross cancelled pdfUrl } }`,
      { c: id },
    );
    const c = d.customer;
    if (!c) return notFound(t("There is no such customer, or it is not yours to see."));
    crumbs([[c.name]]);
    const children = (parent) => c.projects.filter((p) => (p.parentId ?? null) === parent);
    const tree = (parent) => {
      const list = children(parent);
      return list.length ? `<ul>${list.map((p) => `<li><a href="#/project/${p.id}">${h(p.name)}</a>${p.archived ? ` <span class="muted">${t("(archived)")}</span>` : ""}${tree(p.id)}</li>`).join("")}</ul>` : "";
    };
    const roots = c.projects.filter((p) => !p.parentId || !c.projects.some((q) => q.id === p.parentId));
    const [people, invoices] = [paged(c.people, params, "people"), paged(d.invoices, params, "invoices")];
    main.innerHTML = `<h1>${h(c.name)}</h1>
      <p class="muted">${h(c.country)}${c.vatId ? ` · USt-IdNr. ${h(c.vatId)}` : ""} · <a href="#/history/${c.id}">${t("History")}</a></p>
      <h2>${t("Projects")}</h2><div class="tree"><ul>${roots.map((p) => `<li><a href="#/project/${p.id}">${h(p.name)}</a>${tree(p.id)}</li>`).join("")}</ul></div>
      <h2>${t("People")} <span class="muted">(${c.people.length})</span></h2><table><thead><tr><th>${t("Name")}</th><th>${t("E-mail")}</th><th>${t("Roles")}</th><th>${t("Keys")}</th></tr></thead><tbody>
      ${people.shown.map((p) => `<tr><td><a href="#/history/${p.id}">${h(p.name)}</a></td><td class="wrap">${h(p.email)}</td><td>${p.roles.map((r) => h(t(r.role))).join(", ")}</td><td>${p.sshKeys.filter((k) => !k.revokedAt).length}</td></tr>`).join("")}
      </tbody></table>${people.nav}
      <h2>${t("Invoices")} <span class="muted">(${d.invoices.length})</span></h2><table><thead><tr><th>${t("Number")}</th><th>${t("Period")}</th><th class="num">${t("Gross")}</th><th>${t("Documents")}</th></tr></thead><tbody>
      ${invoices.shown.map((i) => `<tr><td><a href="#/invoice/${i.id}">${h(i.number)}</a>${i.cancelled ? ` <span class="muted">${t("(cancelled)")}</span>` : ""}</td><td>${h(i.period)}</td><td class="num">${money(i.gross)}</td><td><a data-auth href="${i.pdfUrl}">PDF</a> · <a data-auth href="/invoices/${i.id}.xml">XRechnung</a></td></tr>`).join("") || `<tr><td colspan="4" class="muted">${t("No invoices.")}</td></tr>`}
      </tbody></table>${invoices.nav}`;
  },

  async project(params, id) {
    const d = await gql(
      `query($p: ID!, $t: DateTime) { infrastructureOverview(projectId: $p, asOf: $t) {
        project { id name slaClass deployments { name environment } }
        vmCount totalCpu totalRamGb totalDiskGb
        vms { id name location cpu ramGb diskGb lastGoodBackupAt }
        monitors { id url state lastTransitionAt }
        backupHealth { vm { id name } lastGoodBackupAt failuresLast7Days stale }
        access { name sshKeys { fingerprint algorithm revokedAt usableForSecrets unusableForSecretsReason } }
        upcomingMaintenance { start end reason projectId } }
        releases(asOf: $t) { channel isoWeek windowStart state } }`,
      { p: id },
    );
    const o = d.infrastructureOverview;
    if (!o) return notFound(t("There is no such project, or it is not yours to see."));
    crumbs(await projectCrumbs(id));
    const month = new Date().toISOString().slice(0, 7);
    const [vms, monitors] = [paged(o.vms, params, "vms"), paged(o.monitors, params, "monitors")];
    const totals = t("{n} VMs: {cpu} vCPU, {ram} GB RAM, {disk} GB disk", { n: o.vmCount, cpu: o.totalCpu, ram: o.totalRamGb, disk: o.totalDiskGb });
    main.innerHTML = `<h1>${h(o.project.name)}</h1>
      <p class="muted">SLA ${h(o.project.slaClass)} · <a href="#/sla/${o.project.id}?month=${month}">${t("SLA reports")}</a> · <a href="#/monitor-new/${o.project.id}">${t("New monitor")}</a> · <a href="#/history/${o.project.id}">${t("History")}</a></p>
      <h2>VMs <span class="muted">(${totals})</span></h2>
      <table><thead><tr><th>${t("Name")}</th><th>${t("Location")}</th><th class="num">vCPU</th><th class="num">${t("RAM GB")}</th><th class="num">${t("Disk GB")}</th><th>${t("Last good backup")}</th></tr></thead><tbody>
      ${vms.shown.map((v) => `<tr><td><a href="#/vm/${v.id}">${h(v.name)}</a></td><td>${h(v.location)}</td><td class="num">${v.cpu}</td><td class="num">${v.ramGb}</td><td class="num">${v.diskGb}</td><td>${when(v.lastGoodBackupAt)}</td></tr>`).join("")}
      </tbody></table>${vms.nav}
      <h2>${t("Monitors")}</h2>${glance(o.monitors)}<table><thead><tr><th>URL</th><th>${t("State")}</th><th>${t("Since")}</th><th><span class="visually-hidden">${t("Actions")}</span></th></tr></thead><tbody>
      ${monitors.shown.map((m) => `<tr><td class="wrap">${h(m.url)}</td><td class="state-${m.state}">${h(t(m.state))}</td><td>${when(m.lastTransitionAt)}</td><td><a href="#/monitor-edit/${m.id}">${t("Edit")}</a> · <a href="#/history/${m.id}">${t("History")}</a></td></tr>`).join("") || `<tr><td colspan="4" class="muted">${t("No monitors.")}</td></tr>`}
      </tbody></table>${monitors.nav}
      <h2>${t("Backup health")}</h2><table><thead><tr><th>${t("VM")}</th><th>${t("Last good backup")}</th><th class="num">${t("Failures (7 days)")}</th><th>${t("Stale")}</th></tr></thead><tbody>
      ${o.backupHealth.map((b) => `<tr><td>${h(b.vm.name)}</td><td>${when(b.lastGoodBackupAt)}</td><td class="num ${b.failuresLast7Days ? "failed" : ""}">${b.failuresLast7Days}</td><td class="${b.stale ? "failed" : ""}">${yesNo(b.stale)}</td></tr>`).join("")}
      </tbody></table>
      <h2>${t("Deployments")}</h2><ul>${o.project.deployments.map((dep) => `<li>${h(dep.name)} (${h(dep.environment)}) · <a data-auth href="/keys/${o.project.id}/${encodeURIComponent(dep.name)}.pub">${t("key list")}</a></li>`).join("") || `<li class="muted">${t("None.")}</li>`}</ul>
      <h2>${t("Access")}</h2><ul>${o.access.map((p) => `<li>${h(p.name)} <span class="muted">${p.sshKeys.filter((k) => !k.revokedAt).map(keyLabel).join(", ")}</span></li>`).join("") || `<li class="muted">${t("Nobody.")}</li>`}</ul>
      <h2>${t("Upcoming maintenance")}</h2><ul>${o.upcomingMaintenance.map((m) => `<li>${when(m.start)} – ${when(m.end)}: ${h(m.reason)}${m.projectId ? "" : ` ${t("(platform)")}`}</li>`).join("") || `<li class="muted">${t("None.")}</li>`}</ul>
      <h2>${t("Upcoming releases")}</h2><ul>${d.releases.filter((r) => new Date(r.windowStart) > new Date(session.asOf ?? Date.now())).map((r) => `<li>${t("{channel} {week}: window {window} · {state}", { channel: h(r.channel), week: h(r.isoWeek), window: when(r.windowStart), state: h(t(r.state)) })}</li>`).join("") || `<li class="muted">${t("None.")}</li>`}</ul>`;
  },

  async vm(params, id) {
    const after = params.get("after");
    const d = await gql(
      `query($v: ID!, $a: String, $t: DateTime) {
        vm(id: $v, asOf: $t) { id name projectId location cpu ramGb diskGb decommissionedAt hostname channel roles production servicing directoryRing interfaces { vlan mac addresses } configurations { from projectId cpu ramGb diskGb } }
        backupHistory(vmId: $v, first: 20, after: $a, asOf: $t) { nodes { backupId status startedAt finishedAt sizeBytes error expiredAt } pageInfo { hasNextPage endCursor } totalCount } }`,
      { v: id, a: after },
    );
    const v = d.vm;
    if (!v) return notFound(t("There is no such VM, or it is not yours to see."));
    const staff = session.me?.staffRoles?.length > 0;
    crumbs([...(await projectCrumbs(v.projectId)), [v.name]]);
    const b = d.backupHistory;
    const none = `<span class="muted">${t("none")}</span>`;
    const size = t("{cpu} vCPU, {ram} GB RAM, {disk} GB disk", { cpu: v.cpu, ram: v.ramGb, disk: v.diskGb });
    main.innerHTML = `<h1>${h(v.name)}</h1>
      <p>${t("Now: {size} in {location}", { size: `<strong id="vm-size">${size}</strong>`, location: h(v.location) })}${v.decommissionedAt ? t(", decommissioned {when}", { when: when(v.decommissionedAt) }) : ""} · <a href="#/history/${v.id}">${t("History")}</a></p>
      <h2>${t("Node")}</h2><dl class="node" id="vm-node">
        <dt>${t("Host name")}</dt><dd>${h(v.hostname)}</dd>
        <dt>${t("Channel")}</dt><dd>${v.channel ? h(v.channel) : none}</dd>
        <dt>${t("Roles")}</dt><dd id="vm-roles">${v.roles.map(h).join(", ") || none}</dd>
        <dt>${t("Production")}</dt><dd>${yesNo(v.production)}</dd>
        <dt>${t("In service")}</dt><dd>${v.servicing ? t("yes") : `<span class="warn">${t("no (its agent marked it out of service)")}</span>`}</dd>
        <dt>${t("Node API ring")}</dt><dd>${v.directoryRing === 0 ? t("0 (the whole platform)") : t("1 (its resource group)")}</dd></dl>
      <table id="vm-interfaces"><thead><tr><th>VLAN</th><th>MAC</th><th>${t("Addresses")}</th></tr></thead><tbody>
      ${v.interfaces.map((i) => `<tr><td>${h(i.vlan)}</td><td><code>${h(i.mac)}</code></td><td>${i.addresses.map((a) => `<code>${h(a)}</code>`).join(" ")}</td></tr>`).join("") || `<tr><td colspan="3" class="muted">${t("No interfaces: no network is defined in its location.")}</td></tr>`}
      </tbody></table>
      ${staff && !v.decommissionedAt && !session.asOf ? `<form class="stack" id="roles-form"><label>${t("Roles")} <input name="roles" value="${h(v.roles.join(" "))}" placeholder="webgateway postgresql15"><span class="field-error" data-for="roles"></span></label>
        <button type="submit">${t("Set roles")}</button><p class="error" id="form-error" role="alert"></p></form>` : ""}
      <h2>${t("Configuration timeline")}</h2><table><thead><tr><th>${t("From")}</th><th class="num">vCPU</th><th class="num">${t("RAM GB")}</th><th class="num">${t("Disk GB")}</th></tr></thead><tbody>
      ${v.configurations.map((c) => `<tr><td>${when(c.from)}</td><td class="num">${c.cpu}</td><td class="num">${c.ramGb}</td><td class="num">${c.diskGb}</td></tr>`).join("")}
      </tbody></table>
      <h2>${t("Backups")} <span class="muted">(${b.totalCount})</span></h2>${sizes(b.nodes)}<table><thead><tr><th>${t("Backup")}</th><th>${t("Status")}</th><th>${t("Finished")}</th><th class="num">${t("Size")}</th><th>${t("Expired")}</th></tr></thead><tbody>
      ${b.nodes.map((n) => `<tr><td>${h(n.backupId)}</td><td class="${n.status === "FAILED" ? "failed" : ""}">${h(t(n.status))}${n.error ? `: ${h(n.error)}` : ""}</td><td>${when(n.finishedAt)}</td><td class="num">${bytes(n.sizeBytes)}</td><td>${when(n.expiredAt)}</td></tr>`).join("")}
      </tbody></table>
      ${b.pageInfo.hasNextPage ? `<a href="#/vm/${v.id}?after=${encodeURIComponent(b.pageInfo.endCursor)}">${t("Older backups")}</a>` : ""}`;
    $("#roles-form")?.addEventListener("submit", async (event) => {
      event.preventDefault();
      const roles = new FormData(event.target).get("roles").split(/[\s,]+/).filter(Boolean);
      await submitForm("mutation($v: ID!, $r: [String!]!) { setVmRoles(vmId: $v, roles: $r) { id } }", { v: v.id, r: roles }, () => render());
    });
  },

  async invoice(params, id) {
    const d = await gql(
      `query($i: ID!, $t: DateTime) { invoice(id: $i, asOf: $t) { id number kind customerId period net vat gross vatRate note pdfUrl cancelled
        projects { projectName path subtotal lines { subject component from to units unitPrice amount provenance } } } }`,
      { i: id },
    );
    const i = d.invoice;
    if (!i) return notFound(t("There is no such invoice, or it is not yours to see."));
    const c = await gql("query($c: ID!, $t: DateTime) { customer(id: $c, asOf: $t) { id name } }", { c: i.customerId });
    crumbs([[c.customer?.name ?? t("Customer"), `#/customer/${i.customerId}`], [i.number]]);
    const title = i.kind === "CANCELLATION" ? t("Cancellation {number}", { number: h(i.number) }) : t("Invoice {number}", { number: h(i.number) });
    const sums = t("net {net} · VAT {vat} · <strong>gross {gross}</strong>", { net: money(i.net), vat: money(i.vat), gross: money(i.gross) });
    main.innerHTML = `<h1>${title}</h1>
      <p>${h(i.period)} · ${sums}${i.note ? ` · ${h(i.note)}` : ""}${i.cancelled ? ` · ${t("cancelled")}` : ""}
      · <a data-auth href="${i.pdfUrl}">PDF</a> · <a data-auth href="/invoices/${i.id}.xml">XRechnung</a></p>
      ${i.projects.map((g) => `<h2>${h(g.path.join(" › "))} <span class="muted">${money(g.subtotal)}</span></h2>
        <table><thead><tr><th>${t("Service")}</th><th>${t("Period")}</th><th class="num">${t("Units")}</th><th class="num">${t("Unit price")}</th><th class="num">${t("Amount")}</th><th>${t("Events")}</th></tr></thead><tbody>
        ${g.lines.map((l) => `<tr><td>${h(l.subject)} · ${h(l.component)}</td><td>${when(l.from)} – ${when(l.to)}</td><td class="num">${decimal(l.units)}</td><td class="num">${decimal(l.unitPrice)}</td><td class="num">${decimal(l.amount)}</td>
          <td>${l.provenance.map((p) => `<a href="#/events?after=${p - 1}">${p}</a>`).join(" ")}</td></tr>`).join("")}
        </tbody></table>`).join("")}`;
  },

  async events(params) {
    const after = Number(params.get("after") ?? 0);
    crumbs([[t("Events")]]);
    const d = await gql("query($a: Long, $l: Language) { events(after: $a, first: 20) { position entityId recordedAt actor eventType summary(language: $l) reason } }", { a: after, l: lang.toUpperCase() }, { withAsOf: false });
    main.innerHTML = `<h1>${t("Events from position {n}", { n: after + 1 })}</h1>${timeline(d.events)}`;
  },

  async history(params, id) {
    // The whole history, a server page at a time, so that the newest is really first.
    const history = [];
    for (let after = null; ;) {
      const d = await gql("query($e: ID!, $a: String, $l: Language) { history(entityId: $e, first: 1000, after: $a) { position entityId recordedAt actor eventType summary(language: $l) reason } }",
        { e: id, a: after, l: lang.toUpperCase() }, { withAsOf: false });
      history.push(...d.history);
      if (d.history.length < 1000) break;
      after = String(d.history.at(-1).position);
    }
    crumbs([...(history.length ? await entityCrumbs(id, history[0].eventType) : []), [t("History")]]);
    const newest = paged(history.reverse(), params, "page");
    main.innerHTML = `<h1>${t("History")} <span class="muted">(${t("{n} events, newest first", { n: history.length })})</span></h1>${timeline(newest.shown)}${newest.nav}`;
  },

  async search(params) {
    const q = params.get("q") ?? "";
    crumbs([[t("Search")]]);
    $("#search-text").value = q;
    const d = await gql("query($q: String!, $t: DateTime) { search(text: $q, asOf: $t) { kind id title steps { kind id name } } }", { q });
    const link = (hit) => ({ customer: `#/customer/${hit.id}`, project: `#/project/${hit.id}`, vm: `#/vm/${hit.id}` })[hit.kind] ?? `#/history/${hit.id}`;
    // Every step of the way is a link too: the customer, each project, the VM, the person.
    const path = (steps) => `<ol class="path">${steps.map((s) => `<li><a href="${link(s)}">${h(s.name)}</a></li>`).join("")}</ol>`;
    main.innerHTML = `<h1>${t("Search: {text}", { text: h(q) })}</h1><table><thead><tr><th>${t("What")}</th><th>${t("Found")}</th><th>${t("Where")}</th></tr></thead><tbody>
      ${d.search.map((hit) => `<tr><td>${h(t(hit.kind))}</td><td><a href="${link(hit)}">${h(hit.title)}</a></td><td>${path(hit.steps.slice(0, -1))}</td></tr>`).join("") || `<tr><td colspan="3" class="muted">${t("Nothing found.")}</td></tr>`}
      </tbody></table>`;
  },

  async sla(params, projectId) {
    const month = params.get("month") ?? new Date().toISOString().slice(0, 7);
    crumbs([...(await projectCrumbs(projectId)), [`SLA ${monthName(month)}`]]);
    const d = await gql(
      `query($p: ID!, $m: String!, $t: DateTime) { slaReport(projectId: $p, month: $m, asOf: $t) {
        slaClass targetPercent availabilityPercent downtimeSeconds excludedMaintenanceSeconds breached pdfUrl dailyAvailability
        incidents { monitorId start end seconds excluded } } }`,
      { p: projectId, m: month },
    );
    const r = d.slaReport;
    const against = t("{availability} against {target} ({class})", {
      availability: `<strong class="${r.breached ? "failed" : "state-UP"}">${percent(r.availabilityPercent)}</strong>`, target: percent(r.targetPercent), class: h(r.slaClass),
    });
    const downtime = t("downtime {down} s, {excluded} s excluded as announced maintenance", { down: r.downtimeSeconds.toLocaleString(locale()), excluded: r.excludedMaintenanceSeconds.toLocaleString(locale()) });
    main.innerHTML = `<h1>SLA ${h(monthName(month))}</h1>
      <form id="month-form"><label>${t("Month")} <input type="month" name="month" value="${h(month)}"></label> <button type="submit">${t("Show")}</button></form>
      <p>${against} — ${r.breached ? t("target missed") : t("target met")} · ${downtime}
        · <a data-auth href="${r.pdfUrl}">PDF</a></p>
      ${daily(r, month)}
      <h2>${t("Incidents")}</h2><table><thead><tr><th>${t("Start")}</th><th>${t("End")}</th><th class="num">${t("Seconds")}</th><th>${t("Counted")}</th></tr></thead><tbody>
      ${r.incidents.map((i) => `<tr><td>${when(i.start)}</td><td>${when(i.end)}</td><td class="num">${i.seconds}</td><td>${i.excluded ? t("no (maintenance)") : t("yes")}</td></tr>`).join("") || `<tr><td colspan="4" class="muted">${t("No incidents.")}</td></tr>`}
      </tbody></table>`;
    $("#month-form").addEventListener("submit", (event) => {
      event.preventDefault();
      location.hash = `#/sla/${projectId}?month=${new FormData(event.target).get("month")}`;
    });
  },

  async releases(params) {
    crumbs([[t("Releases")]]);
    const d = await gql(
      `query($t: DateTime) { releases(asOf: $t) { id channel isoWeek windowStart decisionDueAt state
        decision { approve automatic at failedConditions reason } vetoes { reason at withdrawn } } }`,
    );
    const staff = session.me?.staffRoles?.length > 0;
    // The latest window first: what comes next and what just happened lead, years of weekly
    // releases page behind them.
    const latest = paged([...d.releases].sort((a, b) => b.windowStart.localeCompare(a.windowStart)), params, "page");
    const reasons = (r) => [
      ...(r.decision?.failedConditions ?? []),
      ...(r.decision?.reason ? [r.decision.reason] : []),
      ...r.vetoes.map((v) => (v.withdrawn ? t("veto: {reason} (withdrawn)", { reason: v.reason }) : t("veto: {reason}", { reason: v.reason }))),
    ];
    main.innerHTML = `<h1>${t("Releases")}</h1>
      ${staff ? `<form class="stack" id="schedule-form"><h2>${t("Schedule a release")}</h2>
        <label>${t("Channel")} <input name="channel" value="stable" required></label>
        <label>${t("ISO week")} <input name="isoWeek" placeholder="2026-W48" required><span class="field-error" data-for="isoWeek"></span></label>
        <label>${t("Changelog")} <input name="changelog" required><span class="field-error" data-for="changelog"></span></label>
        <button type="submit">${t("Schedule")}</button><p class="error" id="form-error" role="alert"></p></form>` : ""}
      <table><thead><tr><th>${t("Channel")}</th><th>${t("Week")}</th><th>${t("Window")}</th><th>${t("Decision due")}</th><th>${t("State")}</th><th>${t("Reasons and vetoes")}</th>${staff ? `<th><span class="visually-hidden">${t("Actions")}</span></th>` : ""}</tr></thead><tbody>
      ${latest.shown.map((r) => `<tr><td>${h(r.channel)}</td><td>${h(r.isoWeek)}</td><td>${when(r.windowStart)}</td><td>${when(r.decisionDueAt)}</td>
        <td>${h(t(r.state))}${r.decision ? ` <span class="muted">(${r.decision.automatic ? t("policy") : t("by hand")})</span>` : ""}</td>
        <td>${reasons(r).map(h).join("<br>")}</td>
        ${staff ? `<td>${releaseActions(r)} <a href="#/history/${r.id}">${t("History")}</a></td>` : ""}</tr>`).join("") || `<tr><td colspan="7" class="muted">${t("No releases.")}</td></tr>`}
      </tbody></table>${latest.nav}`;
    const ask = async (query, variables) => {
      try {
        await gql(query, variables, { withAsOf: false });
        render();
      } catch (e) {
        main.insertAdjacentHTML("afterbegin", `<p class="error" role="alert">${h(e.message)}</p>`);
      }
    };
    main.querySelectorAll("[data-veto]").forEach((b) => b.addEventListener("click", () => {
      const reason = prompt(t("Why veto this release?"));
      if (reason) ask("mutation($r: ID!, $why: String!) { vetoRelease(releaseId: $r, reason: $why) { id } }", { r: b.dataset.veto, why: reason });
    }));
    main.querySelectorAll("[data-cancel]").forEach((b) => b.addEventListener("click", () => {
      const reason = prompt(t("Why cancel this release?"));
      if (reason) ask("mutation($r: ID!, $why: String!) { cancelRelease(releaseId: $r, reason: $why) { id } }", { r: b.dataset.cancel, why: reason });
    }));
    main.querySelectorAll("[data-rolled-out]").forEach((b) => b.addEventListener("click", () => {
      const at = prompt(t("When did the rollout finish? (ISO 8601, UTC)"), new Date().toISOString());
      if (at) ask("mutation($r: ID!, $at: DateTime!) { markReleaseRolledOut(releaseId: $r, at: $at) { id } }", { r: b.dataset.rolledOut, at });
    }));
    main.querySelectorAll("[data-decide]").forEach((b) => b.addEventListener("click", () => {
      const reason = prompt(b.dataset.approve === "true" ? t("Why approve by hand?") : t("Why hold?"));
      if (reason) ask("mutation($r: ID!, $a: Boolean!, $why: String!) { decideRelease(releaseId: $r, approve: $a, reason: $why) { id } }", { r: b.dataset.decide, a: b.dataset.approve === "true", why: reason });
    }));
    $("#schedule-form")?.addEventListener("submit", async (event) => {
      event.preventDefault();
      const f = new FormData(event.target);
      await submitForm("mutation($c: String!, $w: String!, $l: String!) { scheduleRelease(channel: $c, isoWeek: $w, changelog: $l) { id } }",
        { c: f.get("channel"), w: f.get("isoWeek"), l: f.get("changelog") }, () => render());
    });
  },

  async "monitor-edit"(params, monitorId) {
    const d = await gql("query($m: ID!, $t: DateTime) { httpMonitor(id: $m, asOf: $t) { id projectId url followRedirects maxRedirects expectedStatus intervalSeconds timeoutSeconds state } }", { m: monitorId });
    const m = d.httpMonitor;
    if (!m) return notFound(t("There is no such monitor, or it is not yours to see."));
    crumbs([...(await projectCrumbs(m.projectId)), [t("Edit monitor")]]);
    main.innerHTML = `<h1>${t("Edit monitor")}</h1>${monitorForm(m)}`;
    $("#monitor-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = monitorInput(new FormData(event.target));
      delete input.projectId;
      input.paused = new FormData(event.target).get("paused") === "on";
      await submitForm("mutation($m: ID!, $i: ReconfigureHttpMonitorInput!) { reconfigureHttpMonitor(monitorId: $m, input: $i) { id } }",
        { m: monitorId, i: input }, () => (location.hash = `#/project/${m.projectId}`));
    });
  },

  async "monitor-new"(params, projectId) {
    crumbs([...(await projectCrumbs(projectId)), [t("New monitor")]]);
    main.innerHTML = `<h1>${t("New HTTP monitor")}</h1>${monitorForm(null)}`;
    $("#monitor-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = { projectId, ...monitorInput(new FormData(event.target)) };
      await submitForm("mutation($i: CreateHttpMonitorInput!) { createHttpMonitor(input: $i) { id } }", { i: input },
        () => (location.hash = `#/project/${projectId}`));
    });
  },
};

/** The monitor form, filled from `m` when editing. */
function monitorForm(m) {
  const v = m ?? { url: "", followRedirects: true, maxRedirects: 5, expectedStatus: "200-299", intervalSeconds: 60, timeoutSeconds: 10 };
  return `<form class="stack" id="monitor-form" novalidate>
    <label>URL <input name="url" type="url" required value="${h(v.url)}" placeholder="https://example.com/health"><span class="field-error" data-for="url"></span></label>
    <label><span><input name="followRedirects" type="checkbox" ${v.followRedirects ? "checked" : ""}> ${t("Follow redirects")}</span></label>
    <label>${t("Max redirects")} <input name="maxRedirects" type="number" value="${v.maxRedirects}" min="0" max="20"><span class="field-error" data-for="maxRedirects"></span></label>
    <label>${t("Expected status codes")} <input name="expectedStatus" value="${h(v.expectedStatus)}" aria-describedby="status-help"><small id="status-help" class="muted">${t("Codes and ranges, e.g. 200-299,301")}</small><span class="field-error" data-for="expectedStatus"></span></label>
    <label>${t("Interval (seconds)")} <input name="intervalSeconds" type="number" value="${v.intervalSeconds}" min="5" max="86400"><span class="field-error" data-for="intervalSeconds"></span></label>
    <label>${t("Timeout (seconds)")} <input name="timeoutSeconds" type="number" value="${v.timeoutSeconds}" min="1" max="60"><span class="field-error" data-for="timeoutSeconds"></span></label>
    ${m ? `<label><span><input name="paused" type="checkbox" ${m.state === "PAUSED" ? "checked" : ""}> ${t("Paused")}</span></label>` : ""}
    <button type="submit">${m ? t("Save") : t("Create monitor")}</button>
    <p class="error" id="form-error" role="alert"></p>
  </form>`;
}

function monitorInput(f) {
  return {
    url: f.get("url"),
    followRedirects: f.get("followRedirects") === "on",
    maxRedirects: Number(f.get("maxRedirects")),
    expectedStatus: f.get("expectedStatus"),
    intervalSeconds: Number(f.get("intervalSeconds")),
    timeoutSeconds: Number(f.get("timeoutSeconds")),
  };
}

/** Sends a mutation from a form; field errors ("field: message") appear beside their field. */
async function submitForm(mutation, variables, done) {
  document.querySelectorAll(".field-error").forEach((e) => (e.textContent = ""));
  const general = $("#form-error");
  if (general) general.textContent = "";
  try {
    await gql(mutation, variables, { withAsOf: false });
    done();
  } catch (e) {
    for (const err of e.errors ?? [{ message: e.message }]) {
      const field = err.message.split(":")[0];
      const slot = document.querySelector(`.field-error[data-for="${CSS.escape(field)}"]`);
      if (slot) slot.textContent = refusal({ ...err, message: err.message.slice(field.length + 1).trim() });
      else if (general) general.textContent = refusal(err);
    }
  }
}

function timeline(entries) {
  return `<ol class="timeline">${entries.map((e) => `<li><strong>${h(e.summary)}</strong><br><span class="muted">#${e.position} · ${when(e.recordedAt)} · ${h(e.actor)}${e.reason ? ` · “${h(e.reason)}”` : ""}</span></li>`).join("") || `<li class="muted">${t("Nothing recorded.")}</li>`}</ol>`;
}

/** A page that is not there, or not this person's: the same words either way. */
function notFound(message) {
  crumbs([]);
  const asOf = session.asOf ? ` ${t("The view is as recorded at a past instant, when it may not have existed yet.")}` : "";
  main.innerHTML = `<h1>${t("Not found")}</h1><p>${message}${asOf}</p>`;
}

function signInPage(message = "") {
  crumbs([]);
  $("#search").hidden = true;
  $("#as-of").hidden = true;
  $("#who").textContent = "";
  main.innerHTML = `<h1>${t("Sign in")}</h1>
    <form class="stack" id="sign-in"><label>${t("API token")} <input name="token" type="password" autocomplete="current-password" required></label>
    <button type="submit">${t("Sign in")}</button><p class="error" role="alert">${h(message)}</p></form>`;
  $("#sign-in").addEventListener("submit", async (event) => {
    event.preventDefault();
    session.token = new FormData(event.target).get("token").trim();
    session.me = null;
    render();
  });
}

/** The page's own words (index.html): each element names its English text in `data-t`, or
 * the attribute it translates in `data-t-<attribute>`. */
function translatePage() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  for (const el of document.querySelectorAll("[data-t-placeholder]")) el.placeholder = t(el.dataset.tPlaceholder);
  for (const el of document.querySelectorAll("[data-t-aria-label]")) el.setAttribute("aria-label", t(el.dataset.tAriaLabel));
  // Filled once, so that a keyboard user who just chose keeps the focus on it.
  const choice = $("#lang");
  if (!choice.options.length) choice.innerHTML = Object.entries(languages).map(([code, name]) => `<option value="${code}" lang="${code}">${name}</option>`).join("");
  choice.value = lang;
}

async function render() {
  translatePage();
  if (!session.token) return signInPage();
  try {
    if (!session.me) {
      session.me = (await gql("{ me { personId name staffRoles customerId tokenExpiresAt } }", {}, { withAsOf: false })).me;
    }
  } catch (e) {
    session.token = null;
    const busy = e.errors?.some((err) => err.extensions?.code === "UNAVAILABLE");
    return signInPage(busy ? t("The Directory is busy right now; sign in again in a moment.") : t("That token was not accepted."));
  }
  const me = session.me;
  $("#search").hidden = false;
  $("#as-of").hidden = false;
  const roles = me.staffRoles.length ? me.staffRoles.map((r) => h(t(r))).join(", ") : t("customer");
  const expiry = me.tokenExpiresAt ? ` <span class="muted" id="token-expiry" title="${t("Ask for a new token before then")}">${t("token valid until {when}", { when: when(me.tokenExpiresAt) })}</span>` : "";
  $("#who").innerHTML = `${me.staffRoles.length ? `<a href="#/releases">${t("Releases")}</a> · <a href="/graphql">GraphiQL</a> · ` : ""}${h(me.name)} <span class="muted">(${roles})</span>${expiry} <button type="button" id="sign-out">${t("Sign out")}</button>`;
  $("#sign-out").addEventListener("click", () => {
    session.token = null;
    session.me = null;
    session.asOf = null;
    location.hash = "#/";
    render();
  });
  const banner = $("#as-of-banner");
  banner.hidden = !session.asOf;
  banner.textContent = session.asOf ? t("Viewing as recorded at {when} — changes since are not shown.", { when: when(session.asOf) }) : "";
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const [page, id] = path.split("/");
  const params = new URLSearchParams(query ?? "");
  const handler = pages[page || "home"];
  main.innerHTML = `<p>${t("Loading…")}</p>`;
  try {
    if (!handler) return notFound(t("There is no such page, or it is not yours to see."));
    await handler(params, id && decodeURIComponent(id));
  } catch (e) {
    main.innerHTML = `<h1>${t("Something was refused")}</h1><p class="error">${h(e.message)}</p>`;
  }
}

$("#lang").addEventListener("change", (event) => {
  setLang(event.target.value);
  render();
});
$("#search").addEventListener("submit", (event) => {
  event.preventDefault();
  location.hash = `#/search?q=${encodeURIComponent($("#search-text").value.trim())}`;
});
$("#as-of").addEventListener("submit", (event) => {
  event.preventDefault();
  const local = $("#as-of-time").value;
  session.asOf = local ? new Date(local).toISOString() : null;
  render();
});
$("#as-of-clear").addEventListener("click", () => {
  session.asOf = null;
  $("#as-of-time").value = "";
  render();
});
// Documents (PDFs, XRechnung, key lists) need the token too: fetch them with it and open
// what came back, instead of a plain navigation that would carry no credentials.
document.addEventListener("click", async (event) => {
  const link = event.target.closest("a[data-auth]");
  if (!link) return;
  event.preventDefault();
  const url = new URL(link.getAttribute("href"), location.origin);
  if (session.asOf && url.pathname.endsWith(".pdf")) url.searchParams.set("asOf", session.asOf);
  const res = await fetchRetrying(url, { headers: { authorization: `Bearer ${session.token}` } });
  if (!res.ok) {
    main.insertAdjacentHTML("afterbegin", `<p class="error" role="alert">${h(link.textContent)}: ${res.status} ${h(res.statusText)}</p>`);
    return;
  }
  // A document the server names (an invoice, an SLA report) is saved under that name;
  // anything else opens in a new tab.
  const named = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") ?? "")?.[1];
  const blob = URL.createObjectURL(await res.blob());
  if (!named) return window.open(blob, "_blank", "noopener");
  const save = Object.assign(document.createElement("a"), { href: blob, download: named });
  document.body.append(save);
  save.click();
  save.remove();
  setTimeout(() => URL.revokeObjectURL(blob), 60_000);
});
window.addEventListener("hashchange", render);
render();
