// Portcullis dashboard: plain DOM code over the admin API (docs/admin-api.md). The token is asked
// once and kept in sessionStorage (this tab only); every API call sends Authorization: Bearer.
// Values from the API are set as text, never as HTML.
"use strict";

const TOKEN_KEY = "portcullis.admin-token";
const view = () => document.getElementById("view");

class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || "HTTP " + status);
    this.status = status;
    this.problem = problem || {};
  }
}

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + sessionStorage.getItem(TOKEN_KEY) };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch (e) { data = { detail: text }; }
  }
  if (res.status === 401) {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin("The token was refused: " + ((data && data.detail) || "401"));
    throw new ApiError(401, data);
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// el("p", {class: "x"}, "text", child): a new element; strings become text nodes.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

// Replaces `parent`'s children; null and false entries are left out.
function fill(parent, ...nodes) {
  parent.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined && n !== false));
}

function show(...nodes) {
  fill(view(), ...nodes);
}

function daysLeft(notAfter) {
  return Math.floor((Date.parse(notAfter) - Date.now()) / 86400000);
}

function errorBox(err) {
  const list = (err.problem && err.problem.errors) || [];
  return el("div", { class: "errors", role: "alert" },
    el("strong", {}, err.message),
    list.length ? el("ul", {}, list.map((p) => el("li", {}, el("code", {}, p.field), ": ", p.detail))) : null);
}

function showLogin(message) {
  document.getElementById("login").hidden = false;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("login-error").textContent = message || "";
  show();
  document.getElementById("token").focus();
}

// --- endpoints list ---------------------------------------------------------------------------

async function listView() {
  show(el("h1", {}, "Endpoints"), el("p", { class: "muted" }, "Loading…"));
  const data = await api("GET", "/api/v1/endpoints");
  const rows = await Promise.all(data.endpoints.map(async (ep) => {
    let cert = null;
    try { cert = await api("GET", "/api/v1/endpoints/" + encodeURIComponent(ep.id) + "/certificate"); } catch (e) { }
    return endpointRow(ep, cert);
  }));
  show(
    el("div", { class: "row" }, el("h1", {}, "Endpoints"), el("a", { href: "#/new" }, "New endpoint")),
    data.endpoints.length === 0 ? el("p", {}, "No endpoints yet.") :
      el("div", { class: "table-wrap" }, el("table", { "aria-label": "Endpoints" },
        el("thead", {}, el("tr", {}, ["Endpoint", "Hostnames", "Certificate", "Days left", "Alerts", "Problems"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, rows))));
}

function endpointRow(ep, cert) {
  const served = (cert && cert.served) || [];
  const sources = [...new Set(served.map((s) => s.source))];
  const days = served.length ? Math.min(...served.map((s) => daysLeft(s.not_after))) : null;
  const problems = [];
  if (cert) {
    for (const s of served) if (!s.covers_hostname) problems.push(s.hostname + " not covered");
    const uncovered = ep.hostnames.filter((h) => !served.some((s) => s.hostname === h));
    if (uncovered.length) problems.push("no certificate for " + uncovered.join(", "));
    if (cert.managed.enabled && cert.managed.last_error) problems.push(cert.managed.last_error);
  } else {
    problems.push("status unavailable");
  }
  return el("tr", { "data-endpoint": ep.id },
    el("td", {}, el("a", { href: "#/endpoints/" + encodeURIComponent(ep.id) }, ep.id), ep.read_only ? el("div", { class: "hint" }, "from the file") : null),
    el("td", {}, ep.hostnames.join(", ")),
    el("td", {}, sources.length ? sources.map((s) => el("span", { class: "badge " + s }, s)) : el("span", { class: "badge none" }, "none")),
    el("td", { class: days !== null && days < 14 ? "problems" : "" }, days === null ? "–" : String(days)),
    el("td", {}, ep.alerts_firing ? el("a", { class: "badge alert", href: "#/alerts", title: "Alerts firing" }, String(ep.alerts_firing) + " firing") : el("span", { class: "muted" }, "none")),
    el("td", { class: problems.length ? "problems" : "muted" }, problems.length ? problems.join("; ") : "none"));
}

// --- endpoint page ----------------------------------------------------------------------------

async function endpointView(id) {
  const path = "/api/v1/endpoints/" + encodeURIComponent(id);
  show(el("h1", {}, id), el("p", { class: "muted" }, "Loading…"));
  const ep = await api("GET", path);
  const alertsCard = el("section", { class: "card", "aria-labelledby": "alerts-title" });
  const dnsCard = el("section", { class: "card", "aria-labelledby": "dns-title" });
  const certCard = el("section", { class: "card", "aria-labelledby": "cert-title" });
  show(
    el("div", { class: "row" }, el("h1", {}, "Endpoint ", el("code", {}, ep.id)),
      el("span", { class: "muted" }, ep.hostnames.join(", "), " · ", ep.scope, ep.read_only ? " · from the configuration file" : "")),
    alertsCard, dnsCard, certCard,
    el("div", { class: "grid2" }, uploadCard(ep, path, certCard), endpointForm(ep)));
  await Promise.all([renderEndpointAlerts(alertsCard, ep.id), renderDns(dnsCard, path), renderCertificate(certCard, path)]);
}

// --- alerts -----------------------------------------------------------------------------------

function when(time) {
  return time ? time.replace("T", " ").replace("Z", " UTC") : "–";
}

// One table of alerts; `withEndpoint`: a column linking each to its endpoint.
function alertTable(alerts, withEndpoint) {
  const head = ["Severity", "Alert"].concat(withEndpoint ? ["Endpoint"] : [], ["What to do", "First seen", "Last seen", "Count"]);
  return el("div", { class: "table-wrap" }, el("table", { class: "alerts", "aria-label": "Alerts" },
    el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, alerts.map((a) => el("tr", { "data-alert": String(a.id), class: a.state },
      el("td", {}, el("span", { class: "badge " + (a.state === "firing" ? a.severity : "resolved") },
        a.state === "firing" ? a.severity : "resolved")),
      el("td", {}, el("strong", {}, a.kind.replaceAll("_", " ")), el("div", { class: "mono" }, a.subject),
        el("div", { class: "hint" }, a.expected ? "expected " + a.expected + "; " : "", "found " + (a.found || "–"))),
      withEndpoint ? el("td", {}, a.endpoint ? el("a", { href: "#/endpoints/" + encodeURIComponent(a.endpoint) }, a.endpoint) : el("span", { class: "muted" }, "platform")) : null,
      el("td", {}, a.fix),
      el("td", {}, when(a.first_seen)),
      el("td", {}, a.state === "firing" ? when(a.last_seen) : "resolved " + when(a.resolved_at)),
      el("td", {}, String(a.count)))))));
}

async function alertsView() {
  show(el("h1", {}, "Alerts"), el("p", { class: "muted" }, "Loading…"));
  const data = await api("GET", "/api/v1/alerts?state=all");
  const firing = data.alerts.filter((a) => a.state === "firing");
  const resolved = data.alerts.filter((a) => a.state !== "firing");
  show(
    el("div", { class: "row" }, el("h1", {}, "Alerts"),
      el("span", { class: firing.length ? "problems" : "muted" }, firing.length + " firing")),
    firing.length ? alertTable(firing, true) : el("p", { class: "state-ok" }, "No alert is firing."),
    el("h2", { class: "sub" }, "Resolved"),
    resolved.length ? alertTable(resolved, true) : el("p", { class: "muted" }, "None kept."));
}

async function renderEndpointAlerts(card, id) {
  const title = el("h2", { id: "alerts-title" }, "Alerts");
  try {
    const data = await api("GET", "/api/v1/alerts?endpoint=" + encodeURIComponent(id));
    fill(card, title, data.alerts.length ? alertTable(data.alerts, false) : el("p", { class: "state-ok" }, "No alert is firing."));
  } catch (e) {
    fill(card, title, errorBox(e));
  }
}

async function renderDns(card, path) {
  const title = el("h2", { id: "dns-title" }, "DNS records to create");
  const recheck = el("button", { type: "button", class: "secondary", onclick: () => renderDns(card, path) }, "Re-check");
  fill(card, title, el("p", { class: "muted" }, "Checking…"));
  let dns;
  try {
    dns = await api("GET", path + "/dns");
  } catch (e) {
    fill(card, title, e.status === 409 ? el("p", { class: "muted" }, e.message) : errorBox(e));
    return;
  }
  const rows = dns.records.map((r) => {
    const ok = r.state === "ok";
    const unknown = r.state === "unchecked";
    const mark = el("span", { class: ok ? "state-ok" : unknown ? "state-unknown" : "state-bad",
      "aria-label": r.state }, ok ? "✓" : unknown ? "?" : "✗");
    const value = r.name + ". CNAME " + r.target;
    return el("tr", { "data-record": r.purpose + ":" + r.name, "data-state": r.state },
      el("td", {}, mark, " ", r.state.replace("_", " "), r.found ? el("div", { class: "hint" }, "found: " + r.found) : null),
      el("td", {}, r.purpose),
      el("td", { class: "mono" }, r.type),
      el("td", { class: "mono" }, r.name, el("div", { class: "hint" }, "→ ", r.target)),
      el("td", {}, el("button", { type: "button", class: "small secondary", "aria-label": "Copy the " + r.purpose + " record for " + r.name,
        onclick: (ev) => copy(value, ev.currentTarget) }, "Copy")));
  });
  fill(card, 
    el("div", { class: "row" }, title, el("span", {}, dns.ok ? el("span", { class: "state-ok" }, "✓ all in place") : el("span", { class: "state-bad" }, "✗ not all in place"))),
    el("p", { class: "hint" }, "Create these at the DNS provider of each hostname. Checked through ", el("code", {}, dns.resolver), "."),
    el("div", { class: "table-wrap" }, el("table", { class: "records", "aria-label": "DNS records" },
      el("thead", {}, el("tr", {}, ["State", "Purpose", "Type", "Name → target", ""].map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows))),
    recheck);
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch (e) {
    button.textContent = "Copy failed";
  }
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
}

// While a certificate attempt runs (and briefly after "Renew now", before it has started), the
// card refreshes itself, so the swap to the new certificate shows without a click.
const WATCH_EVERY = 1000;
const WATCH_GRACE = 10000;

async function renderCertificate(card, path) {
  const title = el("h2", { id: "cert-title" }, "Served certificate");
  clearTimeout(card.watchTimer);
  let c;
  try {
    c = await api("GET", path + "/certificate");
  } catch (e) {
    fill(card, title, errorBox(e));
    return;
  }
  if (c.managed.enabled && (c.managed.in_flight || Date.now() < (card.watchUntil || 0))) {
    card.watchTimer = setTimeout(() => { if (card.isConnected) renderCertificate(card, path); }, WATCH_EVERY);
  }
  const served = c.served.length ? el("div", { class: "table-wrap" }, el("table", { "aria-label": "Served certificates" },
    el("thead", {}, el("tr", {}, ["Hostname", "Source", "Issuer", "Expires", "Days left"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, c.served.map((s) => el("tr", { "data-hostname": s.hostname, "data-source": s.source },
      el("td", {}, s.hostname, s.covers_hostname ? null : el("div", { class: "problems" }, "does not cover this name")),
      el("td", {}, el("span", { class: "badge " + s.source }, s.source)),
      el("td", {}, s.issuer),
      el("td", { class: "mono" }, s.not_after),
      el("td", {}, String(daysLeft(s.not_after)))))))) : el("p", {}, "No certificate is served for these names yet.");
  const m = c.managed;
  const managed = m.enabled ? el("dl", { class: "facts" },
    el("dt", {}, "Managed"), el("dd", {}, m.in_flight ? "an attempt is running" : m.certificate ? "issued" : "not issued yet"),
    m.challenge ? [el("dt", {}, "Challenge"), el("dd", {}, m.challenge)] : null,
    m.next_renewal ? [el("dt", {}, "Next attempt"), el("dd", {}, m.next_renewal)] : null,
    m.consecutive_failures ? [el("dt", {}, "Failures in a row"), el("dd", {}, String(m.consecutive_failures))] : null,
    m.last_error ? [el("dt", {}, "Last error"), el("dd", { class: "problems" }, m.last_error)] : null) :
    el("p", { class: "muted" }, "No managed certificate for this endpoint.");
  const renew = m.enabled ? el("button", { type: "button", class: "secondary", onclick: async (ev) => {
    try {
      await api("POST", path + "/renew?force=true");
      ev.target.textContent = "Renewal scheduled";
    } catch (e) {
      ev.target.after(errorBox(e));
      if (e.status === 401) return;
    }
    // Scheduled, or refused because an attempt runs already: either way, watch it.
    card.watchUntil = Date.now() + WATCH_GRACE;
    clearTimeout(card.watchTimer);
    card.watchTimer = setTimeout(() => { if (card.isConnected) renderCertificate(card, path); }, WATCH_EVERY);
  } }, "Renew now") : null;
  fill(card, 
    el("div", { class: "row" }, title, el("button", { type: "button", class: "small secondary", onclick: () => renderCertificate(card, path) }, "Refresh")),
    served, el("h2", { class: "sub" }, "Managed certificate"), managed, renew,
    c.transitional ? el("p", { class: "hint" }, "Transitional certificate: " + c.transitional.names.join(", ") + ", issued by " + c.transitional.issuer + ", until " + c.transitional.not_after + ".") : null,
    el("h2", { class: "sub", id: "timeline-title" }, "Timeline"), timelineTable(c.timeline || []));
}

// Every change of the certificate served for the endpoint's names, newest first.
function timelineTable(swaps) {
  if (!swaps.length) return el("p", { class: "muted" }, "No certificate has been served for these names yet.");
  return el("div", { class: "table-wrap" }, el("table", { class: "timeline", "aria-labelledby": "timeline-title" },
    el("thead", {}, el("tr", {}, ["When", "Why", "Source", "Hostnames", "Serial", "Expires"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, swaps.map((t) => el("tr", { "data-reason": t.reason, "data-source": t.source },
      el("td", { class: "mono" }, t.at),
      el("td", {}, t.reason),
      el("td", {}, el("span", { class: "badge " + t.source }, t.source)),
      el("td", {}, t.hostnames.join(", ")),
      el("td", { class: "mono serial" }, t.serial),
      el("td", { class: "mono" }, t.not_after))))));
}

function uploadCard(ep, path, certCard) {
  const out = el("div", {});
  const certificate = el("textarea", { id: "upload-certificate", name: "certificate", "aria-describedby": "upload-certificate-hint", spellcheck: "false" });
  const key = el("textarea", { id: "upload-key", name: "private_key", "aria-describedby": "upload-key-hint", spellcheck: "false" });
  const untrusted = el("input", { type: "checkbox", id: "upload-allow-untrusted", name: "allow_untrusted" });
  // A file's text into the text area beside it.
  const fileInput = (target, id, label) => el("input", { type: "file", id, "aria-label": label, accept: ".pem,.crt,.key,.txt",
    onchange: async (ev) => {
      const f = ev.target.files[0];
      if (f) target.value = await f.text();
    } });
  const form = el("form", { id: "upload-form", onsubmit: async (ev) => {
    ev.preventDefault();
    for (const t of [certificate, key]) t.removeAttribute("aria-invalid");
    try {
      const s = await api("PUT", path + "/transitional-certificate", { certificate: certificate.value, private_key: key.value,
        allow_untrusted: untrusted.checked });
      key.value = "";
      fill(out, el("div", { class: "notice", role: "status" },
        "Uploaded: " + s.names.join(", ") + ", issued by " + s.issuer + ", until " + s.not_after + ".",
        (s.warnings || []).map((w) => el("div", {}, "Warning: " + w))));
      renderCertificate(certCard, path);
    } catch (e) {
      for (const p of (e.problem.errors || [])) {
        if (p.field === "certificate") certificate.setAttribute("aria-invalid", "true");
        if (p.field === "private_key") key.setAttribute("aria-invalid", "true");
      }
      fill(out, errorBox(e));
    }
  } },
    el("label", { for: "upload-certificate" }, "Certificate chain (PEM)"),
    certificate,
    el("p", { class: "hint", id: "upload-certificate-hint" }, "The leaf first, then each issuer. Or from a file: ",
      fileInput(certificate, "upload-certificate-file", "Certificate chain file")),
    el("label", { for: "upload-key" }, "Private key (PEM, unencrypted)"),
    key,
    el("p", { class: "hint", id: "upload-key-hint" }, "Never shown again. Or from a file: ",
      fileInput(key, "upload-key-file", "Private key file")),
    el("div", { class: "check" }, untrusted,
      el("label", { for: "upload-allow-untrusted" }, "Accept a chain from a private CA (not in the system trust store)")),
    el("div", {}, el("button", { type: "submit" }, "Upload")),
    out);
  return el("section", { class: "card", "aria-labelledby": "upload-title" },
    el("h2", { id: "upload-title" }, "Transitional certificate"),
    el("p", { class: "hint" }, "The certificate these names use today elsewhere, served until the managed one is issued."),
    form);
}

// --- create / edit ----------------------------------------------------------------------------

const lines = (text) => text.split(/[\s,]+/).map((s) => s.trim()).filter((s) => s);

function endpointForm(ep) {
  const editing = ep !== null;
  const ro = editing && ep.read_only;
  const out = el("div", {});
  const field = (id, label, value, hint) => [
    el("label", { for: id }, label),
    el("input", { type: "text", id, name: id, value: value || "", disabled: ro, "aria-describedby": id + "-hint" }),
    el("p", { class: "hint", id: id + "-hint" }, hint)];
  const form = el("form", { id: "endpoint-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const v = (id) => form.querySelector("#" + id).value;
    const body = {
      hostnames: lines(v("ep-hostnames")),
      upstreams: lines(v("ep-upstreams")),
      ip_allowlist: lines(v("ep-allowlist")),
      scope: v("ep-scope"),
      managed_https: form.querySelector("#ep-managed").checked,
    };
    if (!editing && v("ep-id").trim()) body.id = v("ep-id").trim();
    form.querySelectorAll("[aria-invalid]").forEach((i) => i.removeAttribute("aria-invalid"));
    try {
      const saved = editing ? await api("PATCH", "/api/v1/endpoints/" + encodeURIComponent(ep.id), body)
        : await api("POST", "/api/v1/endpoints", body);
      if (editing) { route(); } else { location.hash = "#/endpoints/" + encodeURIComponent(saved.id); }
    } catch (e) {
      const ids = { id: "ep-id", hostnames: "ep-hostnames", upstreams: "ep-upstreams", ip_allowlist: "ep-allowlist" };
      for (const p of (e.problem.errors || [])) {
        const input = form.querySelector("#" + ids[p.field.split("[")[0]]);
        if (input) input.setAttribute("aria-invalid", "true");
      }
      fill(out, errorBox(e));
    }
  } },
    editing ? null : field("ep-id", "Id (optional)", "", "A DNS label; generated when empty."),
    field("ep-hostnames", "Hostnames", editing ? ep.hostnames.join(", ") : "", "Comma-separated, e.g. app.example.com"),
    field("ep-upstreams", "Upstreams", editing ? ep.upstreams.join(", ") : "", "host:port, comma-separated"),
    field("ep-allowlist", "IP allowlist", editing ? ep.ip_allowlist.join(", ") : "", "CIDRs; empty is open to all"),
    el("label", { for: "ep-scope" }, "Scope"),
    el("select", { id: "ep-scope", disabled: ro },
      el("option", { value: "external", selected: !editing || ep.scope === "external" }, "external"),
      el("option", { value: "internal", selected: editing && ep.scope === "internal" }, "internal")),
    el("div", { class: "check" },
      el("input", { type: "checkbox", id: "ep-managed", checked: !editing || ep.managed_https, disabled: ro }),
      el("label", { for: "ep-managed" }, "Managed HTTPS")),
    ro ? el("p", { class: "hint" }, "This endpoint comes from the configuration file: change it there and reload.")
      : el("button", { type: "submit" }, editing ? "Save" : "Create endpoint"),
    out);
  return el("section", { class: "card", "aria-labelledby": "form-title" },
    el("h2", { id: "form-title" }, editing ? "Edit endpoint" : "New endpoint"), form);
}

// --- routing ----------------------------------------------------------------------------------

async function route() {
  if (!sessionStorage.getItem(TOKEN_KEY)) return showLogin();
  document.getElementById("login").hidden = true;
  document.getElementById("sign-out").hidden = false;
  const hash = location.hash || "#/";
  try {
    const m = hash.match(/^#\/endpoints\/([^/]+)$/);
    if (m) await endpointView(decodeURIComponent(m[1]));
    else if (hash === "#/new") show(el("h1", {}, "New endpoint"), endpointForm(null));
    else if (hash === "#/alerts") await alertsView();
    else await listView();
    const h1 = view().querySelector("h1");
    if (h1) { h1.tabIndex = -1; h1.focus(); }
  } catch (e) {
    if (e.status !== 401) show(el("h1", {}, "Error"), errorBox(e));
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, document.getElementById("token").value.trim());
    document.getElementById("token").value = "";
    route();
  });
  document.getElementById("sign-out").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin();
  });
  window.addEventListener("hashchange", route);
  route();
});
