// drive.mjs - one visit of the test page in Debian's headless chromium, through the
// DevTools protocol (puppeteer-core; the browser is the system's, never a download).
// Usage: node drive.mjs CHROMIUM PAGE_URL SCREENSHOT USER_DATA_DIR [CHROMIUM_FLAG...]
// (the extra flags go to chromium as they are, e.g. --ignore-certificate-errors for the
// test's self-signed certificate behind nginx).
// Loads the page, waits for the tracker's timed batch (fetch keepalive) and the pixel,
// queues one more event and leaves the page so that it goes by sendBeacon on pagehide.
// Prints one JSON line of what it saw, then keeps the browser open (the beacon is still
// on its way) until "close" arrives on stdin.
import puppeteer from "puppeteer-core";

const [chromium, pageUrl, screenshot, userDataDir, ...extraFlags] = process.argv.slice(2);
const browser = await puppeteer.launch({
  executablePath: chromium,
  headless: true,
  userDataDir,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         ...extraFlags],
});
const seen = {batch: null, beacon: null, pixel: null};
try {
  const page = await browser.newPage();
  page.on("requestfinished", req => {
    const u = req.url(), body = req.postData() || "";
    const status = req.response() ? req.response().status() : 0;
    if (u.includes("/v1/events") && body.includes("-track")) seen.batch = {status, type: req.resourceType()};
    if (u.includes("/v1/events") && body.includes("-beacon")) seen.beacon = {status, type: req.resourceType()};
    if (u.includes("/v1/p.gif")) seen.pixel = {status, result: req.response().headers()["weir-result"]};
  });
  page.on("requestfailed", req => {
    const body = req.postData() || "";
    if (body.includes("-track")) seen.batch = seen.batch || {failed: req.failure().errorText};
    if (body.includes("-beacon")) seen.beacon = seen.beacon || {failed: req.failure().errorText};
  });
  await page.goto(pageUrl, {waitUntil: "load"});
  await page.waitForFunction("window.__ready === true && window.__pixel === true", {timeout: 15000});
  // the timer sends the queue 2 s after the first track: wait for that request
  const deadline = Date.now() + 15000;
  while (!seen.batch && Date.now() < deadline) await new Promise(r => setTimeout(r, 50));
  await page.evaluate("window.beaconNow()");
  await page.screenshot({path: screenshot, fullPage: true});
  await page.goto("about:blank");
  // The beacon leaves after the page is gone, where this page's events no longer reach
  // us: the caller watches the gateway for it, then says "close" on stdin.
  console.log(JSON.stringify(seen));
  await new Promise(resolve => {
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", d => { if (d.includes("close")) resolve(); });
    process.stdin.on("end", resolve);
  });
} finally {
  await browser.close();
}
