// The operator page. It reads /v1/status, /v1/operators/{address} and
// /v1/notifications?operator={address} (docs/api.md) and shows them; nothing else. No
// framework and no build step. Text goes in with DOM nodes only, never as HTML, so nothing
// the API returns is parsed as markup. Amounts stay decimal wei strings (BigInt, never a
// float); `data-*` attributes carry the API's raw values (node/tests/web.rs reads them).
'use strict';

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const WEI_PER_ETH = 10n ** 18n;
const ETH_DECIMALS = 6;
const SEVERITY = { critical: 0, warning: 1, info: 2 };

const $ = (id) => document.getElementById(id);

/** An element with attributes and children; strings become text nodes. */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') e.className = v;
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c !== undefined && c !== null) e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

/** Decimal wei as ETH, cut (not rounded) to 6 decimals. */
function ethText(wei) {
  let v = BigInt(wei);
  const sign = v < 0n ? '-' : '';
  if (v < 0n) v = -v;
  const frac = (v % WEI_PER_ETH).toString().padStart(18, '0').slice(0, ETH_DECIMALS);
  return `${sign}${v / WEI_PER_ETH}.${frac} ETH`;
}

/** An amount: ETH, or wei with the toggle; the exact wei in `data-wei` and the tooltip. */
function amount(wei) {
  return el('span', { class: 'amt', 'data-wei': wei, title: `${wei} wei` },
    el('span', { class: 'eth' }, ethText(wei)), el('span', { class: 'wei' }, `${wei} wei`));
}

/** Basis points as a percentage with two decimals (integer arithmetic). */
function percent(bps) {
  if (bps === null || bps === undefined) return el('span', { class: 'muted' }, 'n/a');
  return el('span', { 'data-bps': bps }, `${Math.floor(bps / 100)}.${String(bps % 100).padStart(2, '0')} %`);
}

function point(p) {
  if (!p) return '';
  const parts = [];
  if (p.epoch !== undefined) parts.push(`epoch ${p.epoch}`);
  if (p.report !== undefined) parts.push(`report ${p.report}`);
  return parts.join(', ');
}

/** The API's JSON, or an Error carrying its `error` line. */
async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: 'application/json' } });
  let body = null;
  try {
    body = await response.json();
  } catch {
    throw new Error(`the node answered ${response.status} without JSON for ${path}`);
  }
  if (!response.ok) throw new Error(body && body.error ? body.error : `the node answered ${response.status}`);
  return body;
}

function say(text, isError) {
  const m = $('message');
  m.textContent = text;
  m.className = isError ? 'error' : '';
  m.hidden = !text;
}

async function showStatus() {
  try {
    const s = await getJSON('/v1/status');
    const parts = [];
    parts.push(s.next_epoch === null ? 'no epoch accounted yet' : `accounted up to epoch ${s.next_epoch - 1}`);
    parts.push(s.latest_report ? `latest report ${s.latest_report}` : 'no report closed yet');
    if (s.accepted_report) parts.push(`report ${s.accepted_report} accepted on chain`);
    if (s.running_report) parts.push(`running frame: report ${s.running_report}`);
    $('node-status').textContent = `This node: ${parts.join(' · ')}`;
  } catch (e) {
    $('node-status').textContent = `This node's status cannot be read: ${e.message}`;
  }
}

function summary(op, list) {
  const latest = op.latest;
  const requirement = latest ? latest.bond_requirement_wei : null;
  let bond;
  if (op.bond_wei === null) {
    bond = el('span', { class: 'muted', 'data-field': 'bond' }, 'not read from the chain yet');
  } else {
    const low = requirement !== null && BigInt(op.bond_wei) < BigInt(requirement);
    bond = el('span', { 'data-field': 'bond', class: low ? 'low' : '' }, amount(op.bond_wei),
      low ? ' below the requirement' : '');
  }
  return el('section', { id: 'summary' }, el('h2', {}, 'Operator'),
    el('dl', {},
      el('dt', {}, 'Address'), el('dd', { class: 'mono', 'data-field': 'address' }, op.address),
      el('dt', {}, 'Score'), el('dd', { 'data-field': 'score' },
        latest ? percent(latest.score.score_bps) : el('span', { class: 'muted' }, 'not in the latest report')),
      el('dt', {}, 'Projected score'), el('dd', { 'data-field': 'running-score' },
        op.running ? percent(op.running.score.score_bps) : el('span', { class: 'muted' }, 'not in the running frame')),
      el('dt', {}, 'Notifications'), el('dd', { 'data-field': 'active' }, activeLine(list)),
      el('dt', {}, 'Bond held'), el('dd', {}, bond),
      el('dt', {}, 'Bond required'), el('dd', { 'data-field': 'bond-requirement' },
        requirement === null ? el('span', { class: 'muted' }, 'no requirement') : amount(requirement))));
}

/** "3 active: 1 critical, 2 warning", linking to the list. */
function activeLine(list) {
  const active = list.filter((n) => n.resolved_at === null);
  if (active.length === 0) return el('span', { class: 'muted' }, 'none active');
  const counts = Object.keys(SEVERITY).map((s) => [s, active.filter((n) => n.severity === s).length])
    .filter(([, c]) => c > 0).map(([s, c]) => `${c} ${s}`);
  return el('a', { href: '#notifications', class: active.some((n) => n.severity === 'critical') ? 'low' : '' },
    `${active.length} active: ${counts.join(', ')}`);
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Without the clipboard API (a plain-HTTP origin other than localhost): copy by selection.
    const area = el('textarea', {}, text);
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
  button.textContent = 'Copied';
  setTimeout(() => { button.textContent = 'Copy proof'; }, 2000);
}

function claim(op) {
  const c = op.claim;
  if (!c) {
    return el('section', { id: 'claim' }, el('h2', {}, 'Claim'),
      el('p', { class: 'muted' }, 'Nothing to claim with the latest report.'));
  }
  const proof = JSON.stringify(c.proof);
  const button = el('button', { type: 'button', class: 'small', id: 'copy-proof' }, 'Copy proof');
  button.addEventListener('click', () => copy(proof, button));
  return el('section', { id: 'claim' }, el('h2', {}, `Claim with report ${c.report}`),
    el('dl', {},
      el('dt', {}, 'Claimable'), el('dd', { 'data-field': 'claimable' }, amount(c.cumulative_wei)),
      el('dt', {}, 'Bond penalties'), el('dd', {}, amount(c.cumulative_bond_penalty_wei)),
      el('dt', {}, 'Bond required'), el('dd', {}, amount(c.bond_requirement_wei)),
      el('dt', {}, 'Merkle root'), el('dd', { class: 'mono', 'data-field': 'root' }, c.merkle_root)),
    el('p', { class: 'muted' }, 'Cumulative amounts, as the leaf holds them: NodeManager.claim pays what was ',
      'not claimed yet. The proof, leaf to root:'),
    el('ol', { class: 'proof', 'data-field': 'proof' }, c.proof.map((h) => el('li', {}, h))),
    button);
}

function notificationList(list) {
  // Active first, the most severe first, the newest first.
  const latest = (n) => [n.raised_at.report ?? 0, n.raised_at.epoch ?? 0];
  const items = [...list].sort((a, b) => {
    const [ra, ea] = latest(a);
    const [rb, eb] = latest(b);
    return (a.resolved_at !== null) - (b.resolved_at !== null) || SEVERITY[a.severity] - SEVERITY[b.severity]
      || rb - ra || eb - ea || (a.id < b.id ? -1 : 1);
  });
  const body = items.length === 0
    ? el('p', { class: 'muted' }, 'No notifications.')
    : el('ul', { class: 'notes' }, items.map((n) => {
      const subject = [n.node !== undefined ? `node ${n.node}` : null,
        n.validator !== undefined ? `validator ${n.validator}` : null].filter(Boolean).join(', ');
      return el('li', { class: `${n.severity}${n.resolved_at ? ' resolved' : ''}`, 'data-id': n.id },
        el('div', {}, el('span', { class: `badge ${n.severity}` }, n.severity), n.kind.replaceAll('_', ' '),
          n.resolved_at ? el('span', { class: 'muted' }, ` · resolved at ${point(n.resolved_at)}`) : ''),
        el('div', {}, n.message),
        el('div', { class: 'muted' }, [subject, `raised at ${point(n.raised_at)}`].filter(Boolean).join(' · '),
          n.amount_wei !== undefined ? ' · ' : '', n.amount_wei !== undefined ? amount(n.amount_wei) : ''));
    }));
  const active = list.filter((n) => n.resolved_at === null).length;
  return el('section', { id: 'notifications', class: 'wide' },
    el('h2', {}, `Notifications (${active} active of ${list.length})`), body);
}

function table(headers, rows) {
  return el('div', { class: 'scroll' }, el('table', {},
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', {}, h)))),
    el('tbody', {}, rows)));
}

function penaltySum(node) {
  return node.penalties.reduce((s, p) => s + BigInt(p.amount_wei), 0n).toString();
}

function nodes(op, status) {
  const title = status.running_report ? `Nodes in the running frame (report ${status.running_report})` : 'Nodes';
  if (!op.running) {
    return el('section', { id: 'nodes', class: 'wide' }, el('h2', {}, title),
      el('p', { class: 'muted' }, 'This operator has no node in the running frame.'));
  }
  const before = new Map((op.latest ? op.latest.nodes : []).map((n) => [n.id, n.rate_bps]));
  const rows = op.running.nodes.map((n) => el('tr', { 'data-node': n.id },
    el('td', {}, String(n.id)), el('td', {}, n.node_type), el('td', {}, String(n.validators)),
    el('td', {}, String(n.duties)), el('td', {}, String(n.included)),
    el('td', { 'data-field': 'rate' }, percent(n.rate_bps)),
    el('td', {}, before.has(n.id) ? percent(before.get(n.id)) : '–'),
    el('td', { 'data-field': 'penalties' }, amount(penaltySum(n))),
    el('td', { 'data-field': 'reward' }, amount(n.reward_wei))));
  return el('section', { id: 'nodes', class: 'wide' }, el('h2', {}, title),
    el('p', { class: 'muted' }, 'As if the frame closed now: rates so far, the penalties and the reward they would give.'),
    table(['node', 'type', 'validators', 'duties', 'included', 'rate', 'last report', 'penalties', 'reward'], rows));
}

function historySection(op) {
  const rows = [...op.history].reverse().map((h) => el('tr', { 'data-report': h.report },
    el('td', {}, String(h.report)), el('td', {}, amount(h.rewards_wei)), el('td', {}, amount(h.bond_penalty_wei)),
    el('td', { 'data-field': 'cumulative' }, amount(h.cumulative_wei)),
    el('td', { 'data-field': 'score' }, percent(h.score_bps)),
    el('td', {}, amount(h.bond_requirement_wei))));
  return el('section', { id: 'history', class: 'wide' }, el('h2', {}, 'Report history'),
    rows.length === 0 ? el('p', { class: 'muted' }, 'In no closed report yet.')
      : table(['report', 'rewards', 'bond penalty', 'cumulative', 'score', 'bond required'], rows));
}

let stream = null;
let pending = null;

/** Loads and shows `address`; `quiet` keeps the page as it is while reloading. */
async function show(address, quiet) {
  const result = $('result');
  if (!ADDRESS.test(address)) {
    result.hidden = true;
    const given = address.length > 60 ? `${address.slice(0, 60)}…` : address;
    say(address === '' ? 'Enter an operator address: 0x followed by 40 hex digits.'
      : `“${given}” is not an operator address: give 0x followed by 40 hex digits.`, true);
    return;
  }
  history.replaceState(null, '', `/?operator=${address}`);
  if (!quiet) say(`Loading operator ${address}…`, false);
  let status, op, list;
  try {
    [status, op, list] = await Promise.all([getJSON('/v1/status'),
      getJSON(`/v1/operators/${address}`), getJSON(`/v1/notifications?operator=${address}`)]);
  } catch (e) {
    result.hidden = true;
    say(e.message, true);
    return;
  }
  result.replaceChildren(summary(op, list.notifications), claim(op), nodes(op, status), historySection(op),
    notificationList(list.notifications));
  result.dataset.operator = op.address;
  result.hidden = false;
  say('', false);
  showStatus();
  follow(address);
}

/** Reloads the operator when the node announces a new or changed notification for it. */
function follow(address) {
  if (stream && stream.address === address) return;
  if (stream) stream.source.close();
  const source = new EventSource(`/v1/notifications/stream?operator=${address}`);
  const reload = () => {
    clearTimeout(pending);
    pending = setTimeout(() => show(address, true), 500);
  };
  source.addEventListener('notification', reload);
  source.addEventListener('lagged', reload);
  stream = { address, source };
}

document.addEventListener('DOMContentLoaded', () => {
  const input = $('operator');
  const toggle = $('wei-toggle');
  toggle.addEventListener('change', () => document.body.classList.toggle('wei', toggle.checked));
  $('lookup').addEventListener('submit', (event) => {
    event.preventDefault();
    show(input.value.trim(), false);
  });
  const wanted = new URLSearchParams(location.search).get('operator');
  if (wanted !== null) {
    input.value = wanted;
    show(wanted.trim(), false);
  }
  showStatus();
});
