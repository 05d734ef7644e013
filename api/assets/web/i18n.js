// The portal's words in German and English. English is the source: `t("Sign in")` is the
// English text itself, and its entry in `de` the German one. Entries are written one a line,
// `"English": "Deutsch",`, so that the API test can check that every `t("…")` of app.js has
// its German entry and no entry is left over. `{name}` is filled from t's second argument;
// an entry with `one`/`other` forms is chosen by `{n}` under the language's plural rules.
// What the server writes (history summaries, its refusals' details) stays as written.

export const languages = { en: "English", de: "Deutsch" };

const en = {
  "{n} events, newest first": { one: "{n} event, newest first", other: "{n} events, newest first" },
  "{n} VMs: {cpu} vCPU, {ram} GB RAM, {disk} GB disk": { one: "{n} VM: {cpu} vCPU, {ram} GB RAM, {disk} GB disk", other: "{n} VMs: {cpu} vCPU, {ram} GB RAM, {disk} GB disk" },
  "Backup sizes of the {n} backups shown: {range}": { one: "Backup size of the backup shown: {range}", other: "Backup sizes of the {n} backups shown: {range}" },
};

const de = {
  "(archived)": "(archiviert)",
  "(cancelled)": "(storniert)",
  "(platform)": "(Plattform)",
  "(stale)": "(veraltet)",
  ", decommissioned {when}": ", stillgelegt {when}",
  ", {n} failed": ", {n} fehlgeschlagen",
  "0 (the whole platform)": "0 (die ganze Plattform)",
  "1 (its resource group)": "1 (ihre Ressourcengruppe)",
  "Access": "Zugang",
  "Actions": "Aktionen",
  "active": "aktiv",
  "Addresses": "Adressen",
  "All fresh": "Alle aktuell",
  "All up": "Alle erreichbar",
  "Amount": "Betrag",
  "API token": "API-Token",
  "Apply": "Anwenden",
  "Approve": "Freigeben",
  "Ask for a new token before then": "Fordern Sie vorher ein neues Token an",
  "Availability": "Verfügbarkeit",
  "Availability by day in {month}: lowest {worst} on day {day}, {below} of {days} days below the target of {target}": "Verfügbarkeit je Tag im {month}: am niedrigsten {worst} am {day}. Tag, {below} von {days} Tagen unter dem Ziel von {target}",
  "Availability in {month}": "Verfügbarkeit im {month}",
  "Backup": "Sicherung",
  "Backup health": "Zustand der Sicherungen",
  "Backup sizes of the {n} backups shown: {range}": { one: "Größe der gezeigten Sicherung: {range}", other: "Größen der {n} gezeigten Sicherungen: {range}" },
  "Backups": "Sicherungen",
  "Breadcrumbs": "Navigationspfad",
  "By day": "Je Tag",
  "by hand": "von Hand",
  "Cancel": "Absagen",
  "Cancellation {number}": "Stornorechnung {number}",
  "cancelled": "storniert",
  "Changelog": "Änderungen",
  "Channel": "Kanal",
  "closed": "geschlossen",
  "Codes and ranges, e.g. 200-299,301": "Codes und Bereiche, z. B. 200-299,301",
  "Coming up": "Demnächst",
  "Configuration timeline": "Konfiguration im Zeitverlauf",
  "Counted": "Gezählt",
  "Country": "Land",
  "Create monitor": "Monitor anlegen",
  "Customer": "Kunde",
  "customer": "Kunde",
  "Customers": "Kunden",
  "Day {day}: to come": "{day}. Tag: steht noch aus",
  "Day {day}: {value}": "{day}. Tag: {value}",
  "Decision due": "Entscheidung fällig",
  "Deployments": "Deployments",
  "Disk GB": "Platte GB",
  "Documents": "Dokumente",
  "downtime {down} s, {excluded} s excluded as announced maintenance": "Ausfallzeit {down} s, davon {excluded} s als angekündigte Wartung ausgenommen",
  "Due": "Fällig",
  "E-mail": "E-Mail",
  "Edit": "Bearbeiten",
  "Edit monitor": "Monitor bearbeiten",
  "End": "Ende",
  "Events": "Ereignisse",
  "Events from position {n}": "Ereignisse ab Position {n}",
  "Expected status codes": "Erwartete Statuscodes",
  "Expired": "Abgelaufen",
  "Failures (7 days)": "Fehlschläge (7 Tage)",
  "Finished": "Beendet",
  "Follow redirects": "Weiterleitungen folgen",
  "Found": "Gefunden",
  "From": "Ab",
  "Gross": "Brutto",
  "History": "Verlauf",
  "Hold": "Zurückhalten",
  "Host name": "Hostname",
  "In service": "In Betrieb",
  "Incidents": "Ausfälle",
  "Interval (seconds)": "Intervall (Sekunden)",
  "Invoice {number}": "Rechnung {number}",
  "Invoices": "Rechnungen",
  "ISO week": "ISO-Woche",
  "key list": "Schlüsselliste",
  "Keys": "Schlüssel",
  "Language": "Sprache",
  "Last good backup": "Letzte gute Sicherung",
  "Loading…": "Wird geladen …",
  "Location": "Standort",
  "Maintenance {start} – {end}: {reason}": "Wartung {start} – {end}: {reason}",
  "Mark rolled out": "Als ausgerollt markieren",
  "Max redirects": "Höchstens Weiterleitungen",
  "Monitors": "Monitore",
  "Monitors: {counts}": "Monitore: {counts}",
  "Month": "Monat",
  "Name": "Name",
  "net {net} · VAT {vat} · <strong>gross {gross}</strong>": "netto {net} · USt. {vat} · <strong>brutto {gross}</strong>",
  "New HTTP monitor": "Neuer HTTP-Monitor",
  "New monitor": "Neuer Monitor",
  "Next": "Weiter",
  "Next page": "Nächste Seite",
  "no": "nein",
  "no (its agent marked it out of service)": "nein (ihr Agent hat sie außer Betrieb gemeldet)",
  "no (maintenance)": "nein (Wartung)",
  "No incidents.": "Keine Ausfälle.",
  "No interfaces: no network is defined in its location.": "Keine Schnittstellen: an ihrem Standort ist kein Netz definiert.",
  "No invoices.": "Keine Rechnungen.",
  "No monitors.": "Keine Monitore.",
  "No projects.": "Keine Projekte.",
  "No releases.": "Keine Releases.",
  "No VMs": "Keine VMs",
  "Nobody.": "Niemand.",
  "Node": "Knoten",
  "Node API ring": "Ring der Knoten-API",
  "none": "keine",
  "None down": "Keiner ausgefallen",
  "None due.": "Nichts offen.",
  "none succeeded": "keine erfolgreich",
  "None.": "Keine.",
  "Not found": "Nicht gefunden",
  "Nothing announced.": "Nichts angekündigt.",
  "Nothing found.": "Nichts gefunden.",
  "Nothing recorded.": "Nichts aufgezeichnet.",
  "Now": "Jetzt",
  "Now: {size} in {location}": "Jetzt: {size} in {location}",
  "Number": "Nummer",
  "Older backups": "Ältere Sicherungen",
  "Open invoices": "Offene Rechnungen",
  "Pages": "Seiten",
  "Paused": "Pausiert",
  "People": "Personen",
  "Period": "Zeitraum",
  "policy": "nach Regel",
  "Previous": "Zurück",
  "Production": "Produktion",
  "Project": "Projekt",
  "Projects": "Projekte",
  "Projects, people and all invoices": "Projekte, Personen und alle Rechnungen",
  "RAM GB": "RAM GB",
  "Reasons and vetoes": "Gründe und Vetos",
  "Release {channel} {week}: {window}": "Release {channel} {week}: {window}",
  "Releases": "Releases",
  "Roles": "Rollen",
  "Save": "Speichern",
  "Schedule": "Planen",
  "Schedule a release": "Release planen",
  "Search": "Suche",
  "Search customers, projects, VMs, people and key fingerprints": "Kunden, Projekte, VMs, Personen und Schlüssel-Fingerabdrücke durchsuchen",
  "Search customers, projects, VMs, people, keys": "Kunden, Projekte, VMs, Personen, Schlüssel suchen",
  "Search: {text}": "Suche: {text}",
  "Seconds": "Sekunden",
  "Service": "Leistung",
  "Set roles": "Rollen setzen",
  "Show": "Zeigen",
  "Sign in": "Anmelden",
  "Sign out": "Abmelden",
  "Signed out.": "Abgemeldet.",
  "Since": "Seit",
  "Size": "Größe",
  "SLA reports": "SLA-Berichte",
  "Something was refused": "Etwas wurde abgelehnt",
  "Stale": "Veraltet",
  "Start": "Beginn",
  "State": "Zustand",
  "Status": "Status",
  "Target": "Ziel",
  "target met": "Ziel erreicht",
  "target missed": "Ziel verfehlt",
  "That token was not accepted.": "Dieses Token wurde nicht angenommen.",
  "The Directory is busy right now; sign in again in a moment.": "Das Directory ist gerade ausgelastet; melden Sie sich gleich noch einmal an.",
  "The view is as recorded at a past instant, when it may not have existed yet.": "Die Ansicht zeigt den Stand eines vergangenen Zeitpunkts, zu dem es das vielleicht noch nicht gab.",
  "There is no such customer, or it is not yours to see.": "Diesen Kunden gibt es nicht, oder er ist für Sie nicht sichtbar.",
  "There is no such invoice, or it is not yours to see.": "Diese Rechnung gibt es nicht, oder sie ist für Sie nicht sichtbar.",
  "There is no such monitor, or it is not yours to see.": "Diesen Monitor gibt es nicht, oder er ist für Sie nicht sichtbar.",
  "There is no such page, or it is not yours to see.": "Diese Seite gibt es nicht, oder sie ist für Sie nicht sichtbar.",
  "There is no such project, or it is not yours to see.": "Dieses Projekt gibt es nicht, oder es ist für Sie nicht sichtbar.",
  "There is no such VM, or it is not yours to see.": "Diese VM gibt es nicht, oder sie ist für Sie nicht sichtbar.",
  "Timeout (seconds)": "Zeitlimit (Sekunden)",
  "token valid until {when}": "Token gültig bis {when}",
  "Unit price": "Einzelpreis",
  "Units": "Menge",
  "Upcoming maintenance": "Angekündigte Wartung",
  "Upcoming releases": "Kommende Releases",
  "Veto": "Veto",
  "veto: {reason}": "Veto: {reason}",
  "veto: {reason} (withdrawn)": "Veto: {reason} (zurückgezogen)",
  "View as of": "Stand vom",
  "Viewing as recorded at {when} — changes since are not shown.": "Ansicht des Stands vom {when} — spätere Änderungen werden nicht gezeigt.",
  "VM": "VM",
  "Week": "Woche",
  "What": "Was",
  "When did the rollout finish? (ISO 8601, UTC)": "Wann war das Ausrollen beendet? (ISO 8601, UTC)",
  "Where": "Wo",
  "Why approve by hand?": "Warum von Hand freigeben?",
  "Why cancel this release?": "Warum dieses Release absagen?",
  "Why hold?": "Warum zurückhalten?",
  "Why veto this release?": "Warum ein Veto gegen dieses Release?",
  "Window": "Zeitfenster",
  "yes": "ja",
  "Your services at a glance": "Ihre Dienste auf einen Blick",
  "{algorithm}: skipped for secrets — {reason}": "{algorithm}: für Geheimnisse übergangen — {reason}",
  "{availability} against {target} ({class})": "{availability} bei einem Ziel von {target} ({class})",
  "{channel} {week}: window {window} · {state}": "{channel} {week}: Zeitfenster {window} · {state}",
  "{cpu} vCPU, {ram} GB RAM, {disk} GB disk": "{cpu} vCPU, {ram} GB RAM, {disk} GB Platte",
  "{first}–{last} of {total}": "{first}–{last} von {total}",
  "{low} to {high}": "{low} bis {high}",
  "{n} bytes": "{n} Byte",
  "{n} down": "{n} ausgefallen",
  "{n} events, newest first": { one: "{n} Ereignis, neuestes zuerst", other: "{n} Ereignisse, neueste zuerst" },
  "{n} VMs: {cpu} vCPU, {ram} GB RAM, {disk} GB disk": { one: "{n} VM: {cpu} vCPU, {ram} GB RAM, {disk} GB Platte", other: "{n} VMs: {cpu} vCPU, {ram} GB RAM, {disk} GB Platte" },
  "{stale} of {n} stale": "{stale} von {n} veraltet",
  // The API's values (enums, search kinds), shown as the words they stand for.
  "UP": "erreichbar",
  "DOWN": "ausgefallen",
  "PAUSED": "pausiert",
  "UNKNOWN": "unbekannt",
  "SUCCEEDED": "erfolgreich",
  "FAILED": "fehlgeschlagen",
  "SCHEDULED": "geplant",
  "APPROVED": "freigegeben",
  "HELD": "zurückgehalten",
  "ROLLED_OUT": "ausgerollt",
  "VIEWER": "Betrachter",
  "MEMBER": "Mitglied",
  "MANAGER": "Verwalter",
  "OPS": "Betrieb",
  "BILLING": "Abrechnung",
  "ADMIN": "Administration",
  "AUDITOR": "Prüfung",
  "person": "Person",
  "project": "Projekt",
  "sshKey": "SSH-Schlüssel",
  "vm": "VM",
  // A refusal's kind (its `extensions.code`), before the server's own words.
  "BAD_INPUT": "Ungültige Eingabe",
  "NOT_FOUND": "Nicht gefunden",
  "CONFLICT": "Zwischenzeitlich geändert",
  "FORBIDDEN": "Nicht erlaubt",
  "UNAUTHENTICATED": "Nicht angemeldet",
  "RULE_VIOLATION": "Gegen die Regeln",
  "UNAVAILABLE": "Gerade ausgelastet",
};

const catalogs = { en, de };

function stored() {
  try {
    return localStorage.getItem("lang");
  } catch {
    return null;
  }
}

/** The language chosen in this browser, else the first of the browser's languages the portal
 * speaks, else English. */
function preferred() {
  const chosen = stored();
  if (chosen in languages) return chosen;
  for (const tag of navigator.languages ?? [navigator.language]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (base in languages) return base;
  }
  return "en";
}

export let lang = preferred();

/** Chooses the portal's language and keeps the choice in this browser. */
export function setLang(code) {
  if (!(code in languages)) return;
  lang = code;
  try {
    localStorage.setItem("lang", code);
  } catch {
    // A browser that keeps nothing still shows this page in the chosen language.
  }
}

/** The locale dates and numbers are written in: the browser's own variant of the language
 * (de-AT, en-GB) when it names one, else the language itself. */
export function locale() {
  return (navigator.languages ?? []).find((tag) => tag.toLowerCase().split("-")[0] === lang) ?? lang;
}

/** `text` in the portal's language, with `{name}`s filled from `params`. */
export function t(text, params = {}) {
  let entry = catalogs[lang][text] ?? text;
  if (typeof entry === "object") entry = entry[new Intl.PluralRules(lang).select(Number(params.n))] ?? entry.other;
  return entry.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** A refusal from the API as a person reads it: in German its kind comes first, in German,
 * then the server's own words. */
export function refusal(error) {
  const code = error.extensions?.code;
  return lang !== "en" && code ? `${t(code)}: ${error.message}` : error.message;
}
