// weir console: the page in front of the read API (shared/spec/console.md). Plain
// JavaScript, no build step, no third-party code: a hash router (#/view?params, so every
// view can be linked), one fetch helper that carries the read key, and six views that
// draw their own SVG charts. Every text from the server goes in as text, never as HTML.
"use strict";

const KEY_SLOT = "weir.console.readKey";
const SVG_NS = "http://www.w3.org/2000/svg";
const VIEWS = {};
const REASONS = ["envelope", "unknown_event_type", "unknown_schema_version", "forbidden", "too_large", "schema"];
const DEFAULT_RANGE = {query: "-72h", rejected: "-24h", rollups: "-7d"};
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const main = document.getElementById("main");
let routeGen = 0;

// --- small helpers ----------------------------------------------------------------------

// h("tag", {attrs}, ...children): an element; on* attributes become listeners, "value"
// is set after the children (a <select> needs its options first).
function h(tag, attrs, ...kids) {
  const svg = tag.startsWith("svg:");
  const el = svg ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
  let value;
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "value") value = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  if (value !== undefined) el.value = value;
  return el;
}

function clear(el, ...kids) {
  el.replaceChildren();
  for (const kid of kids.flat(Infinity)) if (kid) el.append(kid);
  return el;
}

const num = n => (typeof n === "number" ? n.toLocaleString("en-US") : n === null || n === undefined ? "—" : String(n));

function parseTime(s) {
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
}

// "2026-12-02 04:35:12" in UTC (the footer says so): sortable and unambiguous.
function fmtTime(s, ms) {
  if (!s) return "—";
  const t = typeof s === "number" ? s : parseTime(s);
  if (t === null) return String(s);
  const text = new Date(t).toISOString().replace("T", " ");
  return ms ? text.replace("Z", "") : text.replace(/\.\d+Z$/, "");
}

function ago(s) {
  const t = parseTime(s);
  if (t === null) return "never";
  const sec = Math.round((Date.now() - t) / 1000);
  if (sec < 0) return "just now";
  if (sec < 90) return sec + " s ago";
  if (sec < 5400) return Math.round(sec / 60) + " min ago";
  if (sec < 172800) return Math.round(sec / 3600) + " h ago";
  return Math.round(sec / 86400) + " days ago";
}

// "in the last 72 hours", "from 3 days ago to now": the range after a verb.
const inRange = (from, to) => {
  const w = rangeWords(from, to);
  return w.startsWith("from ") ? w : "in " + w;
};

// The overview knows the hour of the last event, not its second.
function hourAgo(s) {
  const t = parseTime(s);
  if (t === null) return "never";
  if (t % 3600000 !== 0) return ago(s);
  const n = Math.floor(Date.now() / 3600000) - Math.floor(t / 3600000);
  return n <= 0 ? "this hour" : n === 1 ? "last hour" : n < 48 ? `${n} hours ago` : fmtTime(t).slice(0, 10);
}

function rangeWords(from, to) {
  const m = /^-(\d+)([hd])$/.exec(from || "");
  if (m && (!to || to === "now")) {
    const n = Number(m[1]);
    const unit = m[2] === "h" ? (n === 1 ? "hour" : "hours") : n === 1 ? "day" : "days";
    return n === 1 ? "the last " + unit : `the last ${n} ${unit}`;
  }
  const point = t => {
    const r = /^-(\d+)([hd])$/.exec(t || "");
    if (r) return `${r[1]} ${r[2] === "h" ? "hour" : "day"}${r[1] === "1" ? "" : "s"} ago`;
    return !t || t === "now" ? "now" : parseTime(t) === null ? t : fmtTime(t) + " UTC";
  };
  return `from ${point(from)} to ${point(to)}`;
}

function jsonText(v, max) {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return max && s.length > max ? s.slice(0, max - 1) + "…" : s;
}

function metricName(def) {
  const [fn, field] = Object.entries(def)[0] || ["?", "?"];
  return fn === "count" && field === "*" ? "count" : `${fn}(${field})`;
}

// --- the API ----------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || "HTTP " + status);
    this.status = status;
    this.code = code;
  }
}

// Thrown once a view has shown its problem where it happened (the form above it stays
// usable): route() then only marks the view as failed.
class Shown extends Error {}

// api(), with a failure shown in box (its loading line replaced), then thrown as Shown.
async function apiIn(box, path, params) {
  try {
    return await api(path, params);
  } catch (err) {
    for (const l of box.querySelectorAll(".loading")) l.remove();
    box.append(problem(err, route));
    throw new Shown(err.message);
  }
}

async function api(path, params) {
  const url = new URL("api/v1/" + path, document.baseURI);
  for (const [k, v] of params instanceof URLSearchParams ? params : Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.append(k, v);
  }
  let res;
  try {
    res = await fetch(url, {headers: {Authorization: "Bearer " + (sessionStorage.getItem(KEY_SLOT) || ""),
                                      Accept: "application/json"}, cache: "no-store"});
  } catch (e) {
    throw new ApiError(0, "unreachable", String(e.message || e));
  }
  let body = null;
  try {
    body = await res.json();
  } catch (e) {
    if (res.ok) throw new ApiError(res.status, "bad_answer", "the console answered something that is not JSON");
  }
  if (!res.ok) throw new ApiError(res.status, body && body.error, body && body.message);
  return body;
}

// What went wrong and what to do about it, as a block for any view (or the sign-in form).
function problem(err, retry) {
  const box = h("div", {class: "notice error", role: "alert"});
  const again = retry ? h("button", {class: "secondary", type: "button", onclick: retry}, "Try again") : null;
  const otherKey = h("button", {class: "secondary", type: "button", onclick: signOut}, "Enter another key");
  const said = err.message ? h("p", {class: "muted"}, "The console said: ", h("code", null, err.message)) : null;
  const ask = h("p", null, "Ask an operator for a read key: ", h("code", null, "weir key create --name you --read"),
                " (add ", h("code", null, "--event-types a,b"), " to limit what it sees).");
  if (!(err instanceof ApiError)) {
    box.append(h("p", null, h("strong", null, "The page failed: "), String(err && err.message || err),
                 ". Reload the page; if it stays, the browser console has details."), again || "");
  } else if (err.status === 401) {
    box.append(h("p", null, h("strong", null, "This key is not a read key."),
                 " The console does not know it: it is mistyped, revoked, or not a ", h("code", null, "weir_rk_"),
                 " key."), ask, said || "", otherKey);
  } else if (err.status === 403) {
    box.append(h("p", null, h("strong", null, "This key may not see this."),
                 " Ingest keys cannot read, and a read key made with ", h("code", null, "--event-types"),
                 " sees only those types."), ask, said || "", otherKey);
  } else if (err.status === 400) {
    box.append(h("p", null, h("strong", null, "The console did not take this request: "), err.message),
               h("p", null, "Check the field names (", h("code", null, "event_id"), ", ", h("code", null, "source"),
                 ", ", h("code", null, "context.*"), " or a top-level payload property) and the times (RFC 3339 like ",
                 h("code", null, "2026-01-31T12:00:00Z"), ", or relative like ", h("code", null, "-72h"), ")."));
  } else if (err.status === 0) {
    box.append(h("p", null, h("strong", null, "Cannot reach the console"), ` at ${location.origin}. `,
                 "Is ", h("code", null, "weir console"), " still running?"), again || "");
  } else {
    box.append(h("p", null, h("strong", null, `The console failed (HTTP ${err.status}): `), err.message || err.code || ""),
               h("p", null, "Its log says more (look for ", h("code", null, "weir console"), " lines); then try again."),
               again || "");
  }
  return box;
}

// --- frame: sign-in, routing, the range picker -------------------------------------------

function signOut() {
  sessionStorage.removeItem(KEY_SLOT);
  route();
}

function showLogin(message) {
  document.getElementById("range").hidden = true;
  document.getElementById("logout").hidden = true;
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.remove("active");
    a.removeAttribute("aria-current");
  }
  const view = document.getElementById("login-template").content.cloneNode(true);
  clear(main, view);
  main.dataset.view = "login";
  main.dataset.state = message ? "error" : "ready";
  const form = document.getElementById("login-form");
  const input = document.getElementById("login-key");
  const out = document.getElementById("login-error");
  if (message) out.append(message);
  input.focus();
  form.addEventListener("submit", async ev => {
    ev.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_SLOT, key);
    form.querySelector("button").disabled = true;
    clear(out, h("div", {class: "loading"}, "Checking the key…"));
    main.dataset.state = "loading";
    try {
      await api("event-types");
      route();
    } catch (err) {
      sessionStorage.removeItem(KEY_SLOT);
      const box = problem(err);
      if (!key.startsWith("weir_rk_")) {
        box.prepend(h("p", null, "This does not look like a read key: read keys start with ", h("code", null, "weir_rk_"),
                      key.startsWith("weir_") ? " (ingest keys cannot read the lake)." : "."));
      }
      box.querySelectorAll("button").forEach(b => b.remove()); // the form itself is the way to retry
      clear(out, box);
      form.querySelector("button").disabled = false;
      main.dataset.state = "error";
      input.select();
    }
  });
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const q = raw.indexOf("?");
  const view = (q < 0 ? raw : raw.slice(0, q)) || "overview";
  return {view, params: new URLSearchParams(q < 0 ? "" : raw.slice(q + 1))};
}

function go(view, params) {
  const qs = params.toString();
  const next = "#/" + view + (qs ? "?" + qs : "");
  if (location.hash === next) route();
  else location.hash = next;
}

function setupRange(view, params) {
  const form = document.getElementById("range");
  const uses = view in DEFAULT_RANGE;
  form.hidden = !uses;
  if (!uses) return;
  const preset = document.getElementById("range-preset");
  const custom = document.getElementById("range-custom");
  const from = params.get("from") || DEFAULT_RANGE[view];
  const to = params.get("to") || "";
  const isPreset = !to && [...preset.options].some(o => o.value === from);
  preset.value = isPreset ? from : "custom";
  custom.hidden = isPreset;
  document.getElementById("range-from").value = from;
  document.getElementById("range-to").value = to || "now";
}

function applyRange(from, to) {
  const {view, params} = parseHash();
  params.set("from", from);
  if (to && to !== "now") params.set("to", to);
  else params.delete("to");
  go(view, params);
}

document.getElementById("range-preset").addEventListener("change", ev => {
  if (ev.target.value === "custom") {
    document.getElementById("range-custom").hidden = false;
    document.getElementById("range-from").focus();
  } else {
    applyRange(ev.target.value, "");
  }
});
document.getElementById("range").addEventListener("submit", ev => {
  ev.preventDefault();
  applyRange(document.getElementById("range-from").value.trim() || "-24h",
             document.getElementById("range-to").value.trim());
});
document.getElementById("logout").addEventListener("click", signOut);

async function route() {
  const gen = ++routeGen;
  if (!sessionStorage.getItem(KEY_SLOT)) {
    showLogin();
    return;
  }
  let {view, params} = parseHash();
  if (!VIEWS[view]) view = "overview";
  document.getElementById("logout").hidden = false;
  for (const a of document.querySelectorAll("#nav a")) {
    a.classList.toggle("active", a.dataset.view === view);
    if (a.dataset.view === view) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  setupRange(view, params);
  document.title = "weir console · " + view[0].toUpperCase() + view.slice(1);
  const el = h("div", {class: "view view-" + view});
  clear(main, el);
  main.dataset.view = view;
  main.dataset.state = "loading";
  const range = {from: params.get("from") || DEFAULT_RANGE[view], to: params.get("to") || ""};
  try {
    await VIEWS[view](el, params, range);
    if (gen === routeGen) main.dataset.state = "ready";
  } catch (err) {
    if (gen !== routeGen) return;
    if (!(err instanceof Shown)) clear(el, problem(err, route));
    main.dataset.state = "error";
    if (!(err instanceof ApiError) && !(err instanceof Shown)) console.error(err);
  }
}

function loading(el, what) {
  const l = h("div", {class: "loading"}, what || "Loading…");
  el.append(l);
  return l;
}

// A view's heading, then what path answers, with a loading line while it comes.
async function opening(el, title, subtitle, path, params) {
  el.append(h("div", {class: "head"}, h("h1", null, title), h("span", {class: "muted"}, subtitle)));
  const wait = loading(el);
  try {
    return await api(path, params);
  } finally {
    wait.remove();
  }
}

// A table row that opens (and closes) a row below it with the whole object as JSON.
function expandable(row, obj, colspan) {
  row.addEventListener("click", () => {
    if (row.nextSibling && row.nextSibling.classList.contains("detail")) row.nextSibling.remove();
    else row.after(h("tr", {class: "detail"}, h("td", {colspan}, h("pre", null, JSON.stringify(obj, null, 2)))));
  });
  return row;
}

function empty(...text) {
  return h("div", {class: "notice empty"}, ...text);
}

function table(head, rows) {
  return h("div", {class: "table-wrap"},
           h("table", null, h("thead", null, h("tr", null, head.map(c =>
             typeof c === "string" ? h("th", null, c) : h("th", {class: c.cls}, c.text)))),
             h("tbody", null, rows)));
}

// --- charts -----------------------------------------------------------------------------

// The y scale: 2 to 6 round steps (1, 2, 5 or 25 times a power of ten, at least 1: these
// are counts) whose top is the smallest above v. {max, n}
function yScale(v) {
  let best = {max: 2, n: 2};
  v = Math.max(v, 1);
  for (let n = 2; n <= 6; n++) {
    const p = 10 ** Math.floor(Math.log10(v / n));
    for (const m of p >= 10 ? [1, 2, 2.5, 5, 10] : [1, 2, 5, 10]) {
      const step = Math.max(1, m * p);
      if (step * n >= v) {
        if (n === 2 || step * n < best.max || (step * n === best.max && n > best.n)) best = {max: step * n, n};
        break;
      }
    }
  }
  return best;
}

function yAxis(svg, scale, x0, x1, y0, y1) {
  for (let i = 0; i <= scale.n; i++) {
    const v = (scale.max * i) / scale.n;
    const y = y1 - ((y1 - y0) * i) / scale.n;
    svg.append(h("svg:line", {class: "grid-line", x1: x0, x2: x1, y1: y, y2: y}),
               h("svg:text", {x: x0 - 6, y: y + 4, "text-anchor": "end"}, v >= 1000 ? (v / 1000).toLocaleString("en-US") + "k" : String(Math.round(v * 100) / 100)));
  }
}

// Accepted and rejected per hour, stacked; hours estimated from the raw zone's file sizes
// are paler and outlined. points: [{t (ms), accepted, rejected, estimated}] oldest first.
function hourChart(points) {
  const W = 640, H = 180, L = 46, R = 8, T = 10, B = 24;
  const svg = h("svg:svg", {class: "chart hours", viewBox: `0 0 ${W} ${H}`, role: "img",
                            "aria-label": "accepted and rejected events per hour"});
  const ys = yScale(Math.max(0, ...points.map(p => p.accepted + p.rejected))), max = ys.max;
  yAxis(svg, ys, L, W - R, T, H - B);
  const bw = (W - L - R) / Math.max(points.length, 1);
  const scale = v => ((H - B - T) * v) / max;
  points.forEach((p, i) => {
    const x = L + i * bw;
    const ha = scale(p.accepted), hr = scale(p.rejected);
    const g = h("svg:g", {class: "bar" + (p.estimated ? " est" : "")},
                h("svg:title", null, `${fmtTime(p.t).slice(0, 16)} UTC: ${num(p.accepted)} accepted, ${num(p.rejected)} rejected` +
                  (p.estimated ? " (estimated from the raw zone's file sizes)" : "")),
                h("svg:rect", {class: "hit", x, y: T, width: bw, height: H - B - T, fill: "transparent"}));
    if (ha > 0) g.append(h("svg:rect", {class: "acc", x: x + 1, y: H - B - ha, width: Math.max(bw - 2, 1), height: ha}));
    if (hr > 0) g.append(h("svg:rect", {class: "rej", x: x + 1, y: H - B - ha - hr, width: Math.max(bw - 2, 1), height: hr}));
    if (p.estimated && ha + hr > 0) {
      g.append(h("svg:rect", {class: "est-mark", x: x + 0.5, y: H - B - ha - hr - 0.5, width: Math.max(bw - 1, 1), height: ha + hr + 0.5}));
    }
    svg.append(g);
    const d = new Date(p.t);
    if (d.getUTCHours() % 6 === 0) {
      const label = d.getUTCHours() === 0 ? MONTHS[d.getUTCMonth()] + " " + d.getUTCDate() : String(d.getUTCHours()).padStart(2, "0") + ":00";
      svg.append(h("svg:text", {x: x + bw / 2, y: H - 8, "text-anchor": "middle"}, label));
    }
  });
  return svg;
}

// One value per labelled bucket, as vertical bars (time series) - used by Rollups.
function valueChart(items, what) {
  const W = 640, H = 180, L = 46, R = 8, T = 10, B = 24;
  const svg = h("svg:svg", {class: "chart values", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": what});
  const ys = yScale(Math.max(0, ...items.map(i => i.value))), max = ys.max;
  yAxis(svg, ys, L, W - R, T, H - B);
  const bw = (W - L - R) / Math.max(items.length, 1);
  const every = Math.max(1, Math.ceil(items.length / 6));
  items.forEach((it, i) => {
    const x = L + i * bw, hv = ((H - B - T) * it.value) / max;
    svg.append(h("svg:g", {class: "bar"}, h("svg:title", null, `${it.label}: ${num(it.value)}`),
                 h("svg:rect", {class: "acc", x: x + 1, y: H - B - hv, width: Math.max(bw - 2, 1), height: hv})));
    if (i % every === 0 && i + every / 2 < items.length) {
      svg.append(h("svg:text", {x: x + bw / 2, y: H - 8, "text-anchor": "middle"}, it.short || it.label));
    }
  });
  return svg;
}

// Horizontal bars, largest first: a rollup's dimension values within one bucket.
function rankChart(items, what) {
  const W = 640, rowH = 22, L = 200, R = 70;
  const H = items.length * rowH + 6;
  const svg = h("svg:svg", {class: "chart rank", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": what});
  const max = Math.max(1, ...items.map(i => i.value));
  items.forEach((it, i) => {
    const y = 3 + i * rowH, w = ((W - L - R) * it.value) / max;
    svg.append(h("svg:text", {x: L - 8, y: y + 15, "text-anchor": "end"}, jsonText(it.label, 30)),
               h("svg:g", {class: "bar"}, h("svg:title", null, `${it.label}: ${num(it.value)}`),
                 h("svg:rect", {class: "acc", x: L, y: y + 3, width: Math.max(w, 1), height: rowH - 6, rx: 2})),
               h("svg:text", {x: L + w + 6, y: y + 15}, num(it.value)));
  });
  return svg;
}

// --- Overview ---------------------------------------------------------------------------

VIEWS.overview = async el => {
  el.append(h("div", {class: "head"}, h("h1", null, "Overview"),
              h("span", {class: "muted"}, "events accepted and rejected per hour, last 48 hours")));
  const wait = loading(el, "Loading event types and the last 48 hours…");
  const [types, ov] = await Promise.all([api("event-types"), api("overview", {hours: 48})]);
  wait.remove();
  const list = types.event_types || [];
  if (!list.length) {
    el.append(empty(h("p", null, "No event types are registered yet."),
                    h("p", null, "Add one with ", h("code", null, "weir schema add NAME FILE"), ", or run ",
                      h("code", null, "weir up"), " for the demo schemas.")));
    return;
  }
  const to = parseTime(ov.to) ?? Date.now();
  const end = Math.floor(to / 3600000) * 3600000;
  const from = parseTime(ov.from) ?? end - 47 * 3600000;
  const start = Math.floor(from / 3600000) * 3600000;
  const byType = new Map((ov.event_types || []).map(t => [t.event_type, t]));
  el.append(h("div", {class: "legend"}, h("span", null, h("i", {class: "acc"}), "accepted"),
              h("span", null, h("i", {class: "rej"}), "rejected"),
              h("span", null, h("i", {class: "est"}), "estimated (hour not curated yet: from file sizes)")));
  const cards = [];
  for (const t of list) {
    const o = byType.get(t.event_type) || {series: []};
    const byHour = new Map();
    for (const s of o.series || []) {
      const k = parseTime(s.hour);
      if (k !== null) byHour.set(Math.floor(k / 3600000) * 3600000, s);
    }
    const points = [];
    let acc = 0, rej = 0, est = false;
    for (let ms = start; ms <= end; ms += 3600000) {
      const s = byHour.get(ms) || {};
      const p = {t: ms, accepted: s.accepted || 0, rejected: s.rejected || 0, estimated: !!s.estimated};
      acc += p.accepted;
      rej += p.rejected;
      est = est || p.estimated;
      points.push(p);
    }
    const last = o.last_received || t.last_received_hour;
    const versions = (t.versions || []).map(v => h("span", {class: "badge " + (v.active ? "on" : "off"),
                                                               title: "created " + fmtTime(v.created_at)},
                                                   "v" + v.version + (v.active ? " active" : " inactive")));
    const q = new URLSearchParams({event_type: t.event_type});
    const quiet = acc + rej === 0;
    cards.push({quiet, name: t.event_type, node: h("section", {class: "card type-card", "data-event-type": t.event_type},
      h("div", {class: "type-head"}, h("h2", null, t.event_type), versions,
        h("span", {class: "badge", title: "compatibility mode"}, t.compatibility + (t.transitive ? " transitive" : ""))),
      h("div", {class: "facts"},
        h("span", null, "last event ", h("b", {title: last ? fmtTime(last) + " UTC" : ""}, last ? hourAgo(last) : "never")),
        h("span", null, h("b", null, (est ? "≈ " : "") + num(acc)), " accepted"),
        h("span", null, h("b", {class: rej ? "bad" : ""}, num(rej)), " rejected",
          rej ? ` (${((100 * rej) / (acc + rej)).toFixed(rej && rej * 1000 < acc + rej ? 2 : 1)} %)` : "")),
      quiet ? h("p", {class: "muted"}, "Nothing received in the last 48 hours.") : hourChart(points),
      h("div", {class: "facts"}, h("a", {href: "#/query?" + q}, "Query events →"),
        h("a", {href: "#/schemas?" + q}, "Schemas →"),
        h("a", {href: "#/rejected?" + q}, "Rejected →")))});
  }
  // the types that received something first, then the quiet ones, each by name
  cards.sort((a, b) => a.quiet - b.quiet || a.name.localeCompare(b.name));
  el.append(h("div", {class: "grid"}, cards.map(c => c.node)));
};

// --- Schemas ----------------------------------------------------------------------------

// A readable structural diff of two JSON values: one line per added, removed or changed
// leaf, by path; arrays of plain values (required, enum, type) compare as sets.
function jsonDiff(a, b, path, out) {
  const plain = v => v === null || typeof v !== "object";
  if (Array.isArray(a) && Array.isArray(b) && a.every(plain) && b.every(plain)) {
    const ka = a.map(v => JSON.stringify(v)), kb = b.map(v => JSON.stringify(v));
    for (const v of kb) if (!ka.includes(v)) out.push({op: "+", path, text: `gains ${v}`});
    for (const v of ka) if (!kb.includes(v)) out.push({op: "-", path, text: `loses ${v}`});
    return out;
  }
  if (a && b && typeof a === "object" && typeof b === "object" && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    for (const k of keys) {
      const p = path + "/" + k;
      if (!(k in b)) out.push({op: "-", path: p, text: jsonText(a[k], 160)});
      else if (!(k in a)) out.push({op: "+", path: p, text: jsonText(b[k], 160)});
      else jsonDiff(a[k], b[k], p, out);
    }
    return out;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push({op: "~", path, text: `${jsonText(a, 80)} → ${jsonText(b, 80)}`});
  return out;
}

function prettyPath(p) {
  // /properties/user_id/type reads better as properties.user_id.type
  return p.replace(/^\//, "").split("/").join(".") || "(root)";
}

VIEWS.schemas = async (el, params) => {
  const wait = loading(el, "Loading schemas…");
  const types = (await api("event-types")).event_types || [];
  wait.remove();
  if (!types.length) {
    el.append(h("h1", null, "Schemas"), empty(h("p", null, "No event types are registered yet: add one with ",
                                                 h("code", null, "weir schema add NAME FILE"), ".")));
    return;
  }
  const name = params.get("event_type") || types[0].event_type;
  const side = h("nav", {class: "side", "aria-label": "Event types"}, types.map(t =>
    h("a", {href: "#/schemas?" + new URLSearchParams({event_type: t.event_type}),
            class: t.event_type === name ? "active" : null}, t.event_type)));
  const body = h("div");
  el.append(h("div", {class: "split"}, side, body));
  loading(body, `Loading ${name}…`);
  const s = await apiIn(body, "schemas/" + encodeURIComponent(name));
  const versions = (s.versions || []).slice().sort((x, y) => y.version - x.version);
  clear(body, h("div", {class: "head"}, h("h1", null, s.event_type || name),
                h("span", {class: "badge", title: "compatibility mode"},
                  "compatibility: " + s.compatibility + (s.transitive ? ", transitive" : "")),
                h("a", {href: "#/query?" + new URLSearchParams({event_type: name})}, "Query these events →")));
  if (!versions.length) {
    body.append(empty("This event type has no versions."));
    return;
  }
  // the diff between two chosen versions: newest against the one before, unless linked
  const diffBox = h("div", {class: "card diff-card"});
  body.append(diffBox);
  const pick = (p, d) => (versions.some(v => String(v.version) === params.get(p)) ? params.get(p) : String(d));
  if (versions.length < 2) {
    diffBox.append(h("h2", null, "Diff"), h("p", {class: "muted"}, "Only one version: nothing to compare yet."));
  } else {
    const opts = sel => versions.map(v => h("option", {value: String(v.version), selected: String(v.version) === sel},
                                            "v" + v.version));
    const a = h("select", {id: "diff-a", "aria-label": "older version"}, opts(pick("a", versions[1].version)));
    const b = h("select", {id: "diff-b", "aria-label": "newer version"}, opts(pick("b", versions[0].version)));
    a.value = pick("a", versions[1].version);
    b.value = pick("b", versions[0].version);
    const out = h("div");
    const draw = () => {
      const va = versions.find(v => String(v.version) === a.value), vb = versions.find(v => String(v.version) === b.value);
      const changes = jsonDiff(va.schema, vb.schema, "", []);
      const counts = {"+": 0, "-": 0, "~": 0};
      for (const c of changes) counts[c.op]++;
      clear(out, changes.length
        ? [h("p", {class: "muted"}, `${changes.length} difference${changes.length > 1 ? "s" : ""}: ${counts["+"]} added, ` +
             `${counts["-"]} removed, ${counts["~"]} changed`),
           h("ul", {class: "diff"}, changes.map(c => h("li", {class: {"+": "add", "-": "del", "~": "chg"}[c.op]},
             h("span", {class: "sign"}, c.op === "~" ? "±" : c.op), h("b", null, prettyPath(c.path)), " ", c.text)))]
        : h("p", {class: "muted"}, `v${a.value} and v${b.value} are the same schema.`));
    };
    const relink = () => {
      const p = new URLSearchParams({event_type: name, a: a.value, b: b.value});
      history.replaceState(null, "", "#/schemas?" + p);
      draw();
    };
    a.addEventListener("change", relink);
    b.addEventListener("change", relink);
    diffBox.append(h("div", {class: "type-head"}, h("h2", null, "Diff"), a, h("span", {class: "muted"}, "→"), b), out);
    draw();
  }
  body.append(h("h3", null, `${versions.length} version${versions.length > 1 ? "s" : ""}`),
              h("div", {class: "versions"}, versions.map((v, i) => h("details", {class: "card version", open: i === 0,
                                                                                "data-version": v.version},
                h("summary", null, "v" + v.version + " ", h("span", {class: "badge " + (v.active ? "on" : "off")},
                                                            v.active ? "active" : "inactive"),
                  h("span", {class: "muted"}, " created " + fmtTime(v.created_at))),
                h("pre", null, JSON.stringify(v.schema, null, 2))))));
};

// --- Query ------------------------------------------------------------------------------

const ENVELOPE_FIELDS = ["event_id", "source", "context.country", "context.origin", "context.ua.browser",
                         "context.ua.os", "context.ua.device"];

VIEWS.query = async (el, params, range) => {
  const wait = loading(el, "Loading event types…");
  const types = (await api("event-types")).event_types || [];
  wait.remove();
  el.append(h("div", {class: "head"}, h("h1", null, "Query"),
              h("span", {class: "muted"}, "every event of one type that matches up to three filters, newest first")));
  if (!types.length) {
    el.append(empty("No event types are registered yet, so there is nothing to query."));
    return;
  }
  const names = types.map(t => t.event_type);
  const chosen = names.includes(params.get("event_type")) ? params.get("event_type") : null;
  const wheres = params.getAll("where").slice(0, 3).map(w => {
    const i = w.indexOf(":");
    return i < 0 ? [w, ""] : [w.slice(0, i), w.slice(i + 1)];
  });
  const typeSel = h("select", {id: "q-type", name: "event_type"}, names.map(n => h("option", {value: n}, n)));
  typeSel.value = chosen || (names.includes("frontend_error") ? "frontend_error" : names[0]);
  const fields = h("datalist", {id: "q-fields"});
  const fillFields = async () => {
    clear(fields, ENVELOPE_FIELDS.map(f => h("option", {value: f})));
    try {
      const s = await api("schemas/" + encodeURIComponent(typeSel.value));
      const props = new Set();
      for (const v of s.versions || []) for (const p of Object.keys((v.schema && v.schema.properties) || {})) props.add(p);
      fields.prepend(...[...props].sort().map(p => h("option", {value: p})));
    } catch (e) {
      // the datalist only helps typing; the query itself reports any problem
    }
  };
  fillFields();
  typeSel.addEventListener("change", fillFields);
  const rows = [0, 1, 2].map(i => {
    const [f, v] = wheres[i] || (i === 0 && !chosen ? ["user_id", ""] : ["", ""]);
    return h("div", {class: "filter"},
             h("input", {class: "q-field", list: "q-fields", placeholder: "field, e.g. user_id", value: f,
                         "aria-label": `filter ${i + 1} field`, size: 18}),
             h("span", {class: "muted"}, "="),
             h("input", {class: "q-value", placeholder: "value, e.g. 42", value: v, "aria-label": `filter ${i + 1} value`,
                         size: 18}));
  });
  const limit = h("input", {id: "q-limit", type: "number", min: 1, max: 1000, value: params.get("limit") || "100", size: 6});
  const form = h("form", {class: "form card", id: "query-form"},
    h("label", {class: "field"}, h("span", null, "Every"), typeSel),
    h("div", {class: "field"}, h("span", null, "where (up to three, all must match)"), h("div", {class: "filters"}, rows)),
    h("div", {class: "field"}, h("span", null, "in"),
      h("div", {class: "range-words"}, h("b", null, rangeWords(range.from, range.to)), h("span", {class: "muted"}, " (the time range, top right)"))),
    h("label", {class: "field"}, h("span", null, "at most"), limit),
    h("button", {type: "submit", id: "q-run"}, "Run query"), fields);
  form.addEventListener("submit", ev => {
    ev.preventDefault();
    const p = new URLSearchParams({event_type: typeSel.value});
    for (const r of rows) {
      const f = r.querySelector(".q-field").value.trim(), v = r.querySelector(".q-value").value.trim();
      if (f && v !== "") p.append("where", f + ":" + v);
    }
    p.set("from", range.from);
    if (range.to) p.set("to", range.to);
    if (limit.value && limit.value !== "100") p.set("limit", limit.value);
    p.set("run", "1");
    go("query", p);
  });
  el.append(form);
  const results = h("div", {id: "query-results"});
  el.append(results);
  if (!chosen) {
    results.append(empty(h("p", null, "Choose an event type, add a filter such as ", h("code", null, "user_id = 42"),
                           ", and run the query.")));
    return;
  }
  const sentence = h("p", {class: "sentence"}, "Every ", h("b", null, chosen),
    wheres.filter(w => w[0]).map((w, i) => [i ? " and " : " with ", h("b", null, `${w[0]} = ${w[1]}`)]),
    " ", h("b", null, inRange(range.from, range.to)));
  results.append(sentence);
  const wait2 = loading(results, "Reading the lake…");
  const q = new URLSearchParams({event_type: chosen, from: range.from});
  if (range.to) q.set("to", range.to);
  for (const w of params.getAll("where").slice(0, 3)) q.append("where", w);
  q.set("limit", params.get("limit") || "100");
  const t0 = performance.now();
  const r = await apiIn(results, "events", q);
  wait2.remove();
  const events = (r.events || []).slice().sort((x, y) => (parseTime(y.received_at) ?? 0) - (parseTime(x.received_at) ?? 0));
  results.append(h("p", {class: "stats", id: "query-stats"},
    h("b", null, `${num(events.length)} event${events.length === 1 ? "" : "s"}`),
    ` · ${num(r.elapsed_ms)} ms in the console (${Math.round(performance.now() - t0)} ms here)` +
    ` · ${num(r.scanned_files)} file${r.scanned_files === 1 ? "" : "s"} read, ${num(r.scanned_rows)} rows scanned`,
    r.truncated ? h("span", {class: "badge warn"}, "stopped at the scan budget: narrow the range") : null,
    events.length >= Number(q.get("limit")) ? h("span", {class: "badge warn"}, `limit ${q.get("limit")} reached`) : null));
  if (r.bad_files && r.bad_files.length) {
    results.append(h("div", {class: "notice error"}, h("p", null, h("strong", null, `${r.bad_files.length} file(s) could not be read`),
      " and were left out; the rest is answered."), h("ul", {class: "err-list mono"},
      r.bad_files.map(b => h("li", null, typeof b === "string" ? b : jsonText(b))))));
  }
  if (!events.length) {
    results.append(empty(h("p", null, `No ${chosen} event matched ${inRange(range.from, range.to)}.`),
      h("p", null, "Widen the time range, check the filter values, or look at ", h("a", {href: "#/rejected?" +
        new URLSearchParams({event_type: chosen})}, "what was rejected"), ".")));
    return;
  }
  const cols = [];
  for (const e of events) for (const k of Object.keys(e.payload || {})) if (!cols.includes(k) && cols.length < 8) cols.push(k);
  const body = events.map(e => {
    const row = h("tr", {class: "clickable event-row", "data-event-id": e.event_id, title: "click for the whole event"},
      h("td", {class: "nowrap mono", title: e.received_at}, fmtTime(e.received_at, true)),
      h("td", null, e.source || "—"),
      h("td", {class: "num"}, e.schema_version ?? "—"),
      cols.map(c => {
        const v = (e.payload || {})[c];
        return h("td", {"data-field": c}, v === undefined ? h("span", {class: "muted"}, "—")
          : h("span", {class: "json", title: jsonText(v, 2000)}, jsonText(v, 120)));
      }));
    return expandable(row, e, 3 + cols.length);
  });
  results.append(table(["received (UTC)", "source", {text: "v", cls: "num"}, ...cols], body));
};

// --- Rejected ---------------------------------------------------------------------------

VIEWS.rejected = async (el, params, range) => {
  el.append(h("div", {class: "head"}, h("h1", null, "Rejected"),
              h("span", {class: "muted"}, `events the gateway refused ${inRange(range.from, range.to)}, newest first`)));
  const wait = loading(el, "Loading…");
  const types = ((await api("event-types")).event_types || []).map(t => t.event_type);
  const type = params.get("event_type") || "", reason = params.get("reason") || "";
  const typeSel = h("select", {id: "r-type"}, h("option", {value: ""}, "all types"), types.map(t => h("option", {value: t}, t)));
  if (type && !types.includes(type)) typeSel.append(h("option", {value: type}, type));
  typeSel.value = type;
  const reasonSel = h("select", {id: "r-reason"}, h("option", {value: ""}, "all reasons"),
                      REASONS.map(r => h("option", {value: r}, r.replace(/_/g, " "))));
  reasonSel.value = reason;
  const refilter = () => {
    const p = new URLSearchParams(params);
    for (const [k, s] of [["event_type", typeSel], ["reason", reasonSel]]) {
      if (s.value) p.set(k, s.value);
      else p.delete(k);
    }
    go("rejected", p);
  };
  typeSel.addEventListener("change", refilter);
  reasonSel.addEventListener("change", refilter);
  el.insertBefore(h("div", {class: "form"}, h("label", {class: "field"}, h("span", null, "event type"), typeSel),
                    h("label", {class: "field"}, h("span", null, "reason"), reasonSel)), wait);
  const r = await apiIn(el, "rejected", {from: range.from, to: range.to, event_type: type, reason, limit: params.get("limit") || 200});
  wait.remove();
  const list = r.events || [];
  if (!list.length) {
    el.append(empty(h("p", null, `Nothing was rejected ${inRange(range.from, range.to)}` +
                      (type || reason ? " with these filters" : "") + "."),
                    h("p", null, "Good news, or widen the time range.")));
    return;
  }
  el.append(h("p", {class: "stats"}, `${num(list.length)} rejected event${list.length === 1 ? "" : "s"}` +
              (r.truncated ? " (more exist: narrow the range)" : "")));
  const rows = list.map(e => {
    // the stored line keeps a JSON event whole as `event`, anything else as text in `raw`
    const rec = e.line && typeof e.line === "object" ? e.line : {};
    const line = "event" in rec ? rec.event : "raw" in rec ? rec.raw : e.line === undefined ? e.event : e.line;
    const errors = (e.errors || []).flatMap(x => (x && Array.isArray(x.errors) ? x.errors : [x]));
    const row = h("tr", {class: "clickable rejected-row", title: "click for the line as received"},
      h("td", {class: "nowrap mono"}, fmtTime(e.received_at)),
      h("td", null, e.event_type || h("span", {class: "muted"}, "—")),
      h("td", null, e.source || "—"),
      h("td", null, h("ul", {class: "err-list"}, errors.map(x => h("li", null,
        h("span", {class: "badge bad"}, x.code || "error"), " ",
        x.instance_path ? h("code", null, x.instance_path) : null, " ", x.message || x.keyword || "")))),
      // the payload is what a person came to see; the title (and a click) has the whole line
      h("td", null, h("span", {class: "json mono", title: jsonText(line ?? "", 4000)},
                      jsonText(line && typeof line === "object" && "payload" in line ? line.payload : line ?? "", 140))));
    return expandable(row, e, 5);
  });
  el.append(table(["received (UTC)", "event type", "source", "errors", "payload as received"], rows));
};

// --- Rollups ----------------------------------------------------------------------------

VIEWS.rollups = async (el, params, range) => {
  const defs = (await opening(el, "Rollups", "counts and distinct counts computed by weir curate for each curated day",
                             "rollups")).rollups || [];
  if (!defs.length) {
    el.append(empty(h("p", null, "No rollups are defined."),
                    h("p", null, h("code", null, "weir up"), " loads the web-analytics set from ", h("code", null, "schemas/rollups/"),
                      "; add your own with ", h("code", null, "weir rollup add FILE"), ".")));
    return;
  }
  const name = defs.some(d => d.name === params.get("name")) ? params.get("name") : (defs.find(d => d.active) || defs[0]).name;
  const link = n => {
    const p = new URLSearchParams(params);
    p.set("name", n);
    p.delete("metric");
    p.delete("bucket");
    return "#/rollups?" + p;
  };
  el.append(table(["name", "event type", "grain", "dimensions", "metrics", "state"], defs.map(d =>
    h("tr", {class: "rollup-def" + (d.name === name ? " selected" : ""), "data-name": d.name},
      h("td", null, h("a", {href: link(d.name)}, d.name)), h("td", null, d.event_type), h("td", null, d.grain),
      h("td", null, (d.dimensions || []).length ? (d.dimensions || []).map(x => h("code", null, x)).flatMap((c, i) => (i ? [", ", c] : [c]))
        : h("span", {class: "muted"}, "none")),
      h("td", null, (d.metrics || []).map(m => h("code", null, metricName(m))).flatMap((c, i) => (i ? [", ", c] : [c]))),
      h("td", null, h("span", {class: "badge " + (d.active ? "on" : "off")}, d.active ? "active" : "inactive"))))));
  const box = h("section", {class: "card rollup-values"});
  el.append(h("h3", null, "Values"), box);
  loading(box, `Loading ${name}…`);
  const r = await apiIn(box, "rollups/" + encodeURIComponent(name), {from: range.from, to: range.to});
  const rows = r.rows || [];
  if (!rows.length) {
    clear(box, empty(h("p", null, `No values of ${name} ${inRange(range.from, range.to)}.`),
      h("p", null, "Rollups are computed by ", h("code", null, "weir curate"), " for each day it curates: run it, or widen the range.")));
    return;
  }
  const metrics = [...new Set(rows.flatMap(x => Object.keys(x.metrics || {})))];
  const dims = [...new Set(rows.flatMap(x => Object.keys(x.dimensions || {})))];
  const metric = metrics.includes(params.get("metric")) ? params.get("metric") : metrics[0];
  const buckets = [...new Set(rows.map(x => x.bucket))].sort((a, b) => (parseTime(a) ?? 0) - (parseTime(b) ?? 0));
  const bucket = buckets.includes(params.get("bucket")) ? params.get("bucket") : buckets[buckets.length - 1];
  const relink = (k, v) => {
    const p = new URLSearchParams(params);
    p.set("name", name);
    p.set(k, v);
    go("rollups", p);
  };
  const metricSel = h("select", {id: "ru-metric", onchange: e => relink("metric", e.target.value)},
                      metrics.map(m => h("option", {value: m}, m)));
  metricSel.value = metric;
  const short = b => (r.grain === "hour" ? fmtTime(b).slice(5, 16) : fmtTime(b).slice(0, 10));
  clear(box);
  const controls = h("div", {class: "form"}, h("label", {class: "field"}, h("span", null, "metric"), metricSel));
  box.append(controls);
  if (!dims.length) {
    // one number per bucket: a time series
    box.append(valueChart(rows.filter(x => x.bucket).sort((a, b) => (parseTime(a.bucket) ?? 0) - (parseTime(b.bucket) ?? 0))
      .map(x => ({label: fmtTime(x.bucket), short: short(x.bucket), value: Number(x.metrics[metric]) || 0})), `${name}: ${metric}`));
  } else {
    // per dimension value within one bucket (summing distinct counts across buckets would be wrong)
    const bucketSel = h("select", {id: "ru-bucket", onchange: e => relink("bucket", e.target.value)},
                        buckets.slice().reverse().map(b => h("option", {value: b}, short(b))));
    bucketSel.value = bucket;
    controls.append(h("label", {class: "field"}, h("span", null, r.grain === "hour" ? "hour" : "day"), bucketSel));
    const top = rows.filter(x => x.bucket === bucket)
      .map(x => ({label: dims.map(d => String((x.dimensions || {})[d] ?? "∅")).join(" · "), value: Number(x.metrics[metric]) || 0}))
      .sort((a, b) => b.value - a.value).slice(0, 15);
    box.append(h("p", {class: "muted"}, `Top ${top.length} by ${metric} in ${short(bucket)}`), rankChart(top, `${name}: ${metric}`));
  }
  const shown = rows.slice().sort((a, b) => (parseTime(b.bucket) ?? 0) - (parseTime(a.bucket) ?? 0) ||
                                            (Number(b.metrics[metric]) || 0) - (Number(a.metrics[metric]) || 0)).slice(0, 500);
  box.append(h("h3", null, `${num(rows.length)} row${rows.length === 1 ? "" : "s"}` + (rows.length > 500 ? " (first 500 shown)" : "")),
    table(["bucket", ...dims, ...metrics.map(m => ({text: m, cls: "num"}))], shown.map(x => h("tr", {class: "rollup-row"},
      h("td", {class: "nowrap mono"}, short(x.bucket)), dims.map(d => h("td", null, String((x.dimensions || {})[d] ?? "∅"))),
      metrics.map(m => h("td", {class: "num"}, num((x.metrics || {})[m])))))));
};

// --- Keys -------------------------------------------------------------------------------

VIEWS.keys = async el => {
  const keys = (await opening(el, "Keys", "every API key: names and scopes, never a secret", "keys")).keys || [];
  if (!keys.length) {
    el.append(empty("No keys yet. ", h("code", null, "weir key create --name NAME"), " makes one."));
    return;
  }
  keys.sort((a, b) => (!!a.revoked_at - !!b.revoked_at) || String(a.name).localeCompare(String(b.name)));
  el.append(table(["name", "kind", "event types", {text: "rate / s", cls: "num"}, "origins", "created (UTC)", "state"],
    keys.map(k => h("tr", {class: "key-row", "data-name": k.name},
      h("td", null, h("b", null, k.name)),
      h("td", null, h("span", {class: "badge"}, k.kind)),
      h("td", null, k.event_types && k.event_types.length ? k.event_types.map(t => h("code", null, t)).flatMap((c, i) => (i ? [" ", c] : [c]))
        : h("span", {class: "muted"}, "all")),
      h("td", {class: "num"}, !k.rate ? h("span", {class: "muted"}, "unlimited") : num(k.rate)),
      h("td", null, k.origins && k.origins.length ? k.origins.join(", ") : h("span", {class: "muted"}, "—")),
      h("td", {class: "nowrap mono"}, fmtTime(k.created_at)),
      h("td", null, k.revoked_at ? h("span", {class: "badge bad", title: fmtTime(k.revoked_at)}, "revoked " + fmtTime(k.revoked_at).slice(0, 10))
        : h("span", {class: "badge on"}, "active"))))));
};

window.addEventListener("hashchange", route);
route();
