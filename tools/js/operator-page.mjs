#!/usr/bin/env node
// Drives the node's operator page (`/`) in Debian's Chromium through playwright-core, the way
// a person would, and prints one JSON object of what the page shows, for node/tests/web.rs
// to compare with the API's own answers.
//
//   node operator-page.mjs <base-url> <operator-address> <screenshot.png> [<phone-screenshot.png>]
//
// The screenshots are of the screen, not the whole page: the desktop one at 1100x900, the
// phone one at 390x844.
// Prints {"desktop": <read>, "phone": <read>, "phone_layout": {...}, "malformed": "<message>",
// "unknown": "<message>", "clipboard": "<text copied>", "wei_toggle": [...], "errors": [...]},
// where <read> is what the page's sections hold (their `data-*` values and texts).
import { chromium } from 'playwright-core';

const [base, operator, screenshot, phoneShot] = process.argv.slice(2);
if (!base || !operator || !screenshot) {
  console.error('usage: node operator-page.mjs <base-url> <operator-address> <screenshot.png> [<phone-screenshot.png>]');
  process.exit(2);
}
const CHROMIUM = process.env.CLAYSTACK_CHROMIUM || '/usr/bin/chromium';
const TIMEOUT = 30_000;
const UNKNOWN = `0x${'0'.repeat(40)}`;

// Flags that work on these machines (docs/operators.md): no sandbox as root, nothing that
// reaches for the network. playwright adds --headless and a fresh --user-data-dir itself.
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  timeout: TIMEOUT,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
    '--disable-sync', '--no-first-run'],
});

const errors = [];
function watch(page, name) {
  page.on('pageerror', (e) => errors.push(`${name}: page error: ${e.message}`));
  page.on('console', (m) => {
    // The unknown operator's 404 is expected; the page shows the API's line for it.
    if (m.type() === 'error' && !m.location().url.endsWith(`/v1/operators/${UNKNOWN}`)) {
      errors.push(`${name}: console: ${m.text()} (${m.location().url})`);
    }
  });
  page.on('requestfailed', (r) => {
    // The event stream is cut when the page closes; that is not a failure of the page.
    if (!r.url().includes('/v1/notifications/stream')) errors.push(`${name}: request failed: ${r.url()}`);
  });
  page.setDefaultTimeout(TIMEOUT);
}

/** What the page shows, read from the DOM (runs in the page). */
function read() {
  const q = (sel, root = document) => root.querySelector(sel);
  const wei = (sel, root) => { const a = q(sel, root)?.querySelector('.amt'); return a ? a.dataset.wei : null; };
  const bps = (sel, root) => { const b = q(sel, root)?.querySelector('[data-bps]'); return b ? Number(b.dataset.bps) : null; };
  const claim = q('[data-field=claimable]') ? {
    claimable_wei: wei('[data-field=claimable]'),
    claimable_eth: q('[data-field=claimable] .eth').textContent,
    root: q('[data-field=root]').textContent,
    proof: [...document.querySelectorAll('[data-field=proof] li')].map((li) => li.textContent),
  } : null;
  return {
    url: location.pathname + location.search,
    address: q('[data-field=address]').textContent,
    score_bps: bps('[data-field=score]'),
    running_score_bps: bps('[data-field=running-score]'),
    bond: q('[data-field=bond]').textContent,
    active: q('[data-field=active]').textContent,
    bond_requirement_wei: wei('[data-field=bond-requirement]'),
    claim,
    notifications: [...document.querySelectorAll('#notifications li[data-id]')].map((li) => li.dataset.id),
    nodes: [...document.querySelectorAll('#nodes tr[data-node]')].map((tr) => ({
      id: Number(tr.dataset.node),
      rate_bps: bps('[data-field=rate]', tr),
      penalties_wei: wei('[data-field=penalties]', tr),
      reward_wei: wei('[data-field=reward]', tr),
    })),
    history: [...document.querySelectorAll('#history tr[data-report]')].map((tr) => ({
      report: Number(tr.dataset.report),
      cumulative_wei: wei('[data-field=cumulative]', tr),
      score_bps: bps('[data-field=score]', tr),
    })),
    status: q('#node-status').textContent,
  };
}

/** Submits `text` in the form and waits for the operator's data or an error line. */
async function lookUp(page, text) {
  await page.fill('#operator', text);
  await page.click('button[type=submit]');
  await page.waitForFunction(() => {
    const m = document.getElementById('message');
    const r = document.getElementById('result');
    return (!m.hidden && m.classList.contains('error')) || (!r.hidden && r.dataset.operator && m.hidden);
  });
}

const out = { errors };
try {
  // A desktop browser: a malformed address, an unknown one, then the operator.
  const desktop = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  await desktop.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = await desktop.newPage();
  watch(page, 'desktop');
  await page.goto(`${base}/`);
  await lookUp(page, '0x12345');
  out.malformed = await page.textContent('#message');
  await lookUp(page, UNKNOWN);
  out.unknown = await page.textContent('#message');
  await lookUp(page, operator);
  out.desktop = await page.evaluate(read);
  if (out.desktop.claim) {
    await page.click('#copy-proof');
    await page.waitForFunction(() => document.getElementById('copy-proof').textContent === 'Copied');
    out.clipboard = await page.evaluate(() => navigator.clipboard.readText());
  }
  // The toggle shows every amount in wei instead of ETH.
  const shown = () => page.evaluate(() => {
    const a = document.querySelector('[data-field=bond-requirement] .amt');
    return a ? a.innerText : null;
  });
  out.wei_toggle = [await shown()];
  await page.check('#wei-toggle');
  out.wei_toggle.push(await shown());
  await page.uncheck('#wei-toggle');
  await page.screenshot({ path: screenshot });

  // A phone, 390 px wide, through the deep link.
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 1,
  });
  const small = await phone.newPage();
  watch(small, 'phone');
  await small.goto(`${base}/?operator=${operator}`);
  await small.waitForFunction(() => {
    const r = document.getElementById('result');
    return (!r.hidden && r.dataset.operator) || document.getElementById('message').classList.contains('error');
  });
  out.phone = await small.evaluate(read);
  if (phoneShot) await small.screenshot({ path: phoneShot });
  out.phone_layout = await small.evaluate(() => ({
    viewport: window.innerWidth,
    page_width: document.documentElement.scrollWidth,
    // Sections that stick out of the screen (a table scrolls inside its section instead).
    overflowing: [...document.querySelectorAll('section, form, header')]
      .filter((s) => s.getBoundingClientRect().right > window.innerWidth + 0.5).map((s) => s.id || s.tagName),
  }));
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(out)}\n`);
