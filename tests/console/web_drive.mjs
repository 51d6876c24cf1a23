// web_drive.mjs - one walk through the console's page in Debian's headless chromium
// (puppeteer-core from tests/browser/node_modules; the browser is the system's, never a
// download). Usage: node web_drive.mjs CHROMIUM CONSOLE_URL SHOT_DIR PROFILE_DIR < plan.json
// plan: {"good_key": "weir_rk_...", "wrong_key": "...", "query": {"event_type", "field", "value"}}
// Signs in with the wrong key, then the good one, visits the six views as a person would
// (the query through the form), saves a screenshot of each as console-VIEW.png, and prints
// one JSON object of what each view showed; web_console.py judges it.
import {createRequire} from "node:module";
import path from "node:path";
import {fileURLToPath, pathToFileURL} from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = process.env.WEIR_PUPPETEER_DIR || path.join(here, "..", "browser");
const require = createRequire(path.join(modules, "package.json"));
const {default: puppeteer} = await import(pathToFileURL(require.resolve("puppeteer-core")).href);

const [chromium, base, shots, profile] = process.argv.slice(2);
let input = "";
for await (const chunk of process.stdin) input += chunk;
const plan = JSON.parse(input);
const seen = {console_errors: [], failed_requests: []};

const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  userDataDir: profile,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--force-color-profile=srgb"],
  defaultViewport: {width: 1360, height: 900},
});

// The page marks <main data-view data-state>: wait until the view is there and done.
async function settled(page, view) {
  await page.waitForFunction(v => {
    const m = document.getElementById("main");
    return m && m.dataset.view === v && m.dataset.state && m.dataset.state !== "loading";
  }, {timeout: 20000}, view);
  return page.$eval("#main", m => m.dataset.state);
}

async function shot(page, name) {
  await page.mouse.move(0, 899); // no hover underline in the pictures
  await page.screenshot({path: path.join(shots, `console-${name}.png`), fullPage: true});
}

async function visit(page, hash, view) {
  await page.evaluate(h => { location.hash = h; }, hash);
  const state = await settled(page, view);
  await shot(page, view);
  return state;
}

const text = (page, sel) => page.$$eval(sel, els => els.map(e => e.innerText.trim()));
// a rejected row: its text and the whole line as received (the cell shows its start)
const rejectedRows = page => page.$$eval("tr.rejected-row", rs => rs.map(r =>
  r.innerText.trim() + "\n" + ((r.querySelector(".json") || {}).title || "")));

try {
  const page = await browser.newPage();
  page.on("console", m => { if (m.type() === "error") seen.console_errors.push(m.text()); });
  page.on("pageerror", e => seen.console_errors.push(String(e)));
  page.on("requestfailed", r => seen.failed_requests.push(r.url() + " " + (r.failure() || {}).errorText));

  // 1. the sign-in form, a wrong key first
  await page.goto(base + "/", {waitUntil: "load"});
  await settled(page, "login");
  seen.title = await page.title();
  await page.type("#login-key", plan.wrong_key);
  await page.click("#login-form button[type=submit]");
  await page.waitForFunction(() => document.getElementById("main").dataset.state === "error", {timeout: 20000});
  seen.login_error = (await text(page, "#login-error")).join("\n");
  seen.key_kept_after_wrong = await page.evaluate(() => sessionStorage.length);
  await shot(page, "wrong-key");

  // 2. the right key: the overview opens
  await page.$eval("#login-key", i => { i.value = ""; });
  await page.type("#login-key", plan.good_key);
  await page.click("#login-form button[type=submit]");
  seen.overview = {state: await settled(page, "overview")};
  await shot(page, "overview");
  Object.assign(seen.overview, await page.evaluate(() => ({
    cards: [...document.querySelectorAll(".type-card")].map(c => ({
      event_type: c.dataset.eventType, text: c.innerText,
      bars: c.querySelectorAll("svg.chart .bar").length,
      estimated: c.querySelectorAll("svg.chart .bar.est rect.acc").length,
      filled: c.querySelectorAll("svg.chart rect.acc, svg.chart rect.rej").length})),
  })));

  // 3. schemas of the queried type, with a diff when it has two versions
  seen.schemas = {state: await visit(page, "#/schemas?event_type=" + plan.query.event_type, "schemas")};
  Object.assign(seen.schemas, await page.evaluate(() => ({
    heading: document.querySelector("#main h1").innerText,
    versions: [...document.querySelectorAll("details.version")].map(d => d.dataset.version),
    schema_text: (document.querySelector("details.version pre") || {}).innerText || "",
    diff: (document.querySelector(".diff-card") || {}).innerText || "",
  })));

  // 4. the query, typed into the form as a person would
  await visit(page, "#/query", "query");
  await page.select("#q-type", plan.query.event_type);
  const fields = await page.$$(".q-field"), values = await page.$$(".q-value");
  await fields[0].evaluate(i => { i.value = ""; });
  await fields[0].type(plan.query.field);
  await values[0].type(plan.query.value);
  await page.click("#q-run");
  await page.waitForFunction(() => location.hash.includes("run=1"), {timeout: 10000});
  seen.query = {state: await settled(page, "query"), hash: await page.evaluate(() => location.hash)};
  await shot(page, "query");
  Object.assign(seen.query, await page.evaluate(() => ({
    sentence: (document.querySelector(".sentence") || {}).innerText || "",
    stats: (document.getElementById("query-stats") || {}).innerText || "",
    rows: [...document.querySelectorAll("tr.event-row")].map(r => ({
      event_id: r.dataset.eventId,
      cells: Object.fromEntries([...r.querySelectorAll("td[data-field]")].map(td => [td.dataset.field, td.innerText])),
      received: r.cells[0].innerText})),
  })));
  // a row opens to the whole event
  if (seen.query.rows.length) {
    await page.click("tr.event-row");
    seen.query.detail = await page.$eval("tr.detail pre", p => JSON.parse(p.innerText));
  }
  // the empty state: a value nobody has
  await page.evaluate(() => { location.hash = location.hash.replace(/where=[^&]*/, "where=user_id%3A987654321"); });
  await page.waitForFunction(() => !document.querySelector("tr.event-row") && document.getElementById("main").dataset.state === "ready",
                             {timeout: 20000});
  seen.query.empty_text = (await text(page, "#query-results .notice.empty")).join("\n");

  // a filter on a field no version has: the console's 400, said on the page
  await page.evaluate(() => { location.hash = location.hash.replace(/where=[^&]*/, "where=no_such_field%3A1"); });
  await page.waitForFunction(() => document.getElementById("main").dataset.state === "error", {timeout: 20000});
  seen.query.bad_field = (await text(page, "#main .notice.error")).join("\n");
  seen.query.form_kept = !!(await page.$("#query-form"));
  await shot(page, "query-bad-field");

  // 5. rejected, then filtered by a reason that matches and one that does not
  seen.rejected = {state: await visit(page, "#/rejected?from=-24h", "rejected")};
  seen.rejected.rows = await rejectedRows(page);
  await page.select("#r-reason", "schema");
  await page.waitForFunction(() => location.hash.includes("reason=schema"), {timeout: 10000});
  await settled(page, "rejected");
  seen.rejected.schema_rows = await rejectedRows(page);
  await page.select("#r-reason", "too_large");
  await page.waitForFunction(() => location.hash.includes("reason=too_large"), {timeout: 10000});
  await settled(page, "rejected");
  seen.rejected.too_large_rows = await rejectedRows(page);
  seen.rejected.too_large_empty = (await text(page, ".notice.empty")).join("\n");

  // the time range picker: last 7 days keeps the filters and the row
  await page.select("#r-reason", "schema");
  await page.waitForFunction(() => location.hash.includes("reason=schema"), {timeout: 10000});
  await settled(page, "rejected");
  await page.select("#range-preset", "-7d");
  await page.waitForFunction(() => location.hash.includes("from=-7d"), {timeout: 10000});
  await settled(page, "rejected");
  seen.rejected.week = {hash: await page.evaluate(() => location.hash), rows: await rejectedRows(page),
                        heading: await page.$eval("#main .head", e => e.innerText)};

  // a custom range: a relative start and an RFC 3339 end, applied with the button
  await page.select("#range-preset", "custom");
  await page.$eval("#range-from", i => { i.value = ""; });
  await page.type("#range-from", "-30d");
  await page.$eval("#range-to", i => { i.value = ""; });
  await page.type("#range-to", plan.range_to);
  await page.click("#range button[type=submit]");
  await page.waitForFunction(() => location.hash.includes("from=-30d"), {timeout: 10000});
  await settled(page, "rejected");
  seen.rejected.custom = {hash: await page.evaluate(() => location.hash), rows: await rejectedRows(page),
                          heading: await page.$eval("#main .head", e => e.innerText)};

  // 6. rollups (may be empty) and 7. keys
  seen.rollups = {state: await visit(page, "#/rollups", "rollups")};
  seen.rollups.text = await page.$eval("#main", m => m.innerText);
  seen.rollups.definitions = await page.$$eval("tr.rollup-def", rs => rs.map(r => r.dataset.name));
  seen.rollups.values = await page.$$eval("tr.rollup-row", rs => rs.length);
  // the values of each rollup the test defined: its table and its chart
  seen.rollup_values = {};
  for (const name of plan.rollups || []) {
    const state = await visit(page, "#/rollups?from=-7d&name=" + name, "rollups");
    seen.rollup_values[name] = {state, ...await page.evaluate(() => {
      const box = document.querySelector(".rollup-values");
      const head = [...box.querySelectorAll("thead th")].map(th => th.innerText.toLowerCase());
      return {
        rows: [...box.querySelectorAll("tr.rollup-row")].map(r => Object.fromEntries(
          [...r.cells].map((c, i) => [head[i], c.innerText]))),
        time_bars: box.querySelectorAll("svg.chart.values .bar").length,
        rank_bars: box.querySelectorAll("svg.chart.rank .bar").length,
        bucket: (box.querySelector("#ru-bucket") || {}).value || null,
      };
    })};
    await shot(page, "rollup-" + name);
  }
  seen.keys = {state: await visit(page, "#/keys", "keys")};
  seen.keys.rows = await page.$$eval("tr.key-row", rs => rs.map(r => ({name: r.dataset.name, text: r.innerText})));
  seen.keys.page_text = await page.$eval("#main", m => m.innerText);

  // a link to a view: a new tab has its own sessionStorage, so it asks for the key, then
  // opens the linked view
  const tab = await browser.newPage();
  await tab.goto(base + "/" + seen.query.hash, {waitUntil: "load"});
  await settled(tab, "login");
  await tab.type("#login-key", plan.good_key);
  await tab.click("#login-form button[type=submit]");
  seen.linked = {state: await settled(tab, "query"), rows: await tab.$$eval("tr.event-row", rs => rs.length)};
  await tab.close();
  // a read key scoped to other types: the schemas of this one are refused, and said so
  if (plan.scoped_key) {
    const other = await browser.newPage();
    await other.goto(base + "/#/schemas?event_type=" + plan.query.event_type, {waitUntil: "load"});
    await settled(other, "login");
    await other.type("#login-key", plan.scoped_key);
    await other.click("#login-form button[type=submit]");
    seen.scoped = {state: await settled(other, "schemas"),
                   text: (await text(other, "#main .notice.error")).join("\n")};
    await other.close();
  }
  // the key lives in sessionStorage only
  seen.storage = await page.evaluate(() => ({session: Object.keys(sessionStorage), local: Object.keys(localStorage),
                                             cookies: document.cookie}));
} catch (e) {
  seen.exception = String(e && e.stack || e);
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
