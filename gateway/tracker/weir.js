/* weir.js - sends a page's events to a weir gateway (served at /v1/weir.js). */
(() => {
  "use strict";
  const s = document.currentScript, d = (s && s.dataset) || {}, q = [], prev = window.weir;
  const base = (d.endpoint || (s ? new URL(s.src).origin : location.origin)).replace(/\/+$/, "");
  const url = base + "/v1/events?key=" + encodeURIComponent(d.key || "");
  let timer = 0;
  const uuid = () => crypto.randomUUID ? crypto.randomUUID() :
    "10000000-1000-4000-8000-100000000000".replace(/[018]/g, c =>
      (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));
  let aid;
  try {
    aid = sessionStorage.getItem("weir_aid") || uuid();
    sessionStorage.setItem("weir_aid", aid);
  } catch (e) {
    aid = uuid();
  }
  const wait = ms => new Promise(r => setTimeout(r, ms));
  // text/plain: a "simple" request, so no preflight; the gateway reads it as JSON.
  const post = (body, tries) =>
    fetch(url, {method: "POST", keepalive: true, headers: {"Content-Type": "text/plain"}, body})
      .then(r => { if (r.status >= 500 || r.status === 429) throw new Error(r.status); })
      .catch(() => tries < 3 ? wait(1000 * 2 ** tries).then(() => post(body, tries + 1)) : undefined);
  const flush = () => {
    clearTimeout(timer);
    timer = 0;
    return q.length ? post(JSON.stringify(q.splice(0)), 0) : Promise.resolve();
  };
  const beacon = () => {
    if (!q.length) return;
    const body = JSON.stringify(q);
    if (navigator.sendBeacon && navigator.sendBeacon(url, body)) q.length = 0;
    else flush();
  };
  const track = (type, payload) => {
    q.push({event_type: type, event_id: uuid(), occurred_at: new Date().toISOString(),
            payload: payload || {}});
    if (q.length >= 20) flush();
    else if (!timer) timer = setTimeout(flush, 2000);
  };
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "hidden") beacon();
  });
  addEventListener("pagehide", beacon);
  window.weir = {track, flush, anonymousId: aid};
  if (prev && Array.isArray(prev.q)) prev.q.forEach(a => track(...a));
  if (d.auto === "page_view")
    track("page_view", {path: location.pathname, url: location.href, referrer: document.referrer,
                        title: document.title, anonymous_id: aid});
})();
