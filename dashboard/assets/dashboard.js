// The dashboard reads data.json once a second and shows what changed since
// the reading before: rates are differences of the server's counters over
// the time between two readings. The tail is an EventSource on ./tail.
'use strict';

const pollInterval = 1000;   // ms between readings
const historyLength = 120;        // readings kept for the rate chart
const tailLength = 50;       // events kept in the tail

const $ = (id) => document.getElementById(id);
const state = { prev: null, points: [], eventSource: null, tailCount: 0 };
window.dashboard = state; // for a look from the console

function series(d, name) { return d.families[name] || []; }
function total(d, name) { return series(d, name).reduce((s, m) => s + m.value, 0); }
function byLabel(d, name, label) {
  const out = new Map();
  for (const m of series(d, name)) {
    const k = (m.labels || {})[label] || '';
    out.set(k, (out.get(k) || 0) + m.value);
  }
  return out;
}
function fmt(n) {
  if (!isFinite(n)) return '–';
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString('en');
  return (Math.round(n * 10) / 10).toLocaleString('en');
}
function fmtSeconds(s) {
  return s < 1 ? `${fmt(s * 1000)} ms` : `${fmt(s)} s`;
}
function rows(tbody, entries) {
  tbody.replaceChildren(...entries.map((cells) => {
    const tr = document.createElement('tr');
    cells.forEach((c, i) => {
      const td = document.createElement('td');
      td.textContent = typeof c === 'number' ? fmt(c) : c;
      if (i > 0 && typeof c === 'number') td.className = 'n';
      tr.append(td);
    });
    return tr;
  }));
  if (!entries.length) {
    const tr = document.createElement('tr');
    const td = document.createElement('td');
    td.textContent = 'none';
    tr.append(td);
    tbody.append(tr);
  }
}
function svg(tag, attrs, text) {
  const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// The figures that count events in: at the edge those from upstream, at the
// origin those it published.
function eventsIn(d, p) {
  return d.role === 'edge' ? total(d, p + 'upstream_events_total') : total(d, p + 'events_emitted_total');
}

function render(d) {
  state.readings = (state.readings || 0) + 1;
  const p = `subpub_${d.role}_`;
  $('role').textContent = d.role;
  const now = { time: d.time, in: eventsIn(d, p), out: total(d, p + 'events_delivered_total'), bytes: total(d, p + 'bytes_written_total') };
  $('events-in-total').textContent = fmt(now.in);
  $('deliveries-total').textContent = fmt(now.out);
  if (state.prev) {
    const dt = now.time - state.prev.time;
    if (dt > 0) {
      const r = { in: (now.in - state.prev.in) / dt, out: (now.out - state.prev.out) / dt, bytes: (now.bytes - state.prev.bytes) / dt };
      $('events-in-rate').textContent = fmt(r.in);
      $('deliveries-rate').textContent = fmt(r.out);
      $('bytes-rate').textContent = fmt(r.bytes);
      state.points.push(r);
      if (state.points.length > historyLength) state.points.shift();
      drawRates();
    }
  }
  state.prev = now;

  // Subscriptions by protocol and format.
  const active = series(d, p + 'subscriptions_active');
  const fanned = new Map(series(d, p + 'subscriptions_fanned_out').map((m) => [m.labels.proto + ' ' + m.labels.format, m.value]));
  $('subscriptions-total').textContent = fmt(active.reduce((s, m) => s + m.value, 0));
  rows($('subscriptions-rows'), active
    .filter((m) => m.value > 0)
    .sort((a, b) => (a.labels.proto + a.labels.format).localeCompare(b.labels.proto + b.labels.format))
    .map((m) => [m.labels.proto, m.labels.format, m.value, fanned.get(m.labels.proto + ' ' + m.labels.format) || 0]));

  if (d.role === 'edge') {
    $('edge-only').hidden = false;
    $('fanout-ratio').textContent = fmt(total(d, p + 'fanout_ratio'));
    rows($('upstream-rows'), [...byLabel(d, p + 'upstream_subscriptions', 'kind')].map(([k, v]) => [k, v]));
  }

  rows($('closed-rows'), [...byLabel(d, p + 'subscriptions_closed_total', 'reason')].sort().map(([k, v]) => [k, v]));
  rows($('rejected-rows'), [...byLabel(d, p + 'subscriptions_rejected_total', 'status')].sort().map(([k, v]) => [k, v]));
  drawLatency(d, p);
}

function drawRates() {
  const chart = $('rate-chart');
  const w = 600, h = 120, pad = 4;
  const max = Math.max(1, ...state.points.map((r) => Math.max(r.in, r.out)));
  const line = (key, cls) => {
    const pts = state.points.map((r, i) => `${(w * (i + historyLength - state.points.length) / (historyLength - 1)).toFixed(1)},${(h - pad - (h - 2 * pad) * r[key] / max).toFixed(1)}`);
    return svg('polyline', { points: pts.join(' '), class: 'line ' + cls });
  };
  chart.replaceChildren(line('in', 'in'), line('out', 'out'), svg('text', { x: 4, y: 12, class: 'axis' }, `${fmt(max)}/s`));
}

// drawLatency shows the histogram's observations per bucket since the
// server started, from its cumulative counts.
function drawLatency(d, p) {
  const name = d.families[p + 'event_latency_seconds'] ? p + 'event_latency_seconds'
    : Object.keys(d.families).find((n) => d.families[n].some((m) => m.buckets));
  const chart = $('latency-chart');
  if (!name) {
    $('latency-help').textContent = 'This server measures no latency.';
    chart.replaceChildren();
    $('latency-summary').textContent = '';
    return;
  }
  $('latency-help').textContent = d.help[name] || name;
  const m = d.families[name][0];
  const counts = m.buckets.map((b, i) => b.count - (i ? m.buckets[i - 1].count : 0));
  counts.push(m.count - (m.buckets.length ? m.buckets[m.buckets.length - 1].count : 0));
  const labels = m.buckets.map((b) => '≤' + fmtSeconds(b.le)).concat(['more']);
  const w = 600, h = 160, base = 130, bw = w / counts.length;
  const max = Math.max(1, ...counts);
  const nodes = [];
  counts.forEach((c, i) => {
    const bh = (base - 14) * c / max;
    nodes.push(svg('rect', { x: i * bw + 2, y: base - bh, width: bw - 4, height: bh, class: 'bar' }));
    if (c > 0) nodes.push(svg('text', { x: i * bw + bw / 2, y: base - bh - 2, 'text-anchor': 'middle', class: 'axis' }, fmt(c)));
    if (i % 2 === 0 || i === counts.length - 1) nodes.push(svg('text', { x: i * bw + bw / 2, y: base + 14, 'text-anchor': 'middle', class: 'axis' }, labels[i]));
  });
  chart.replaceChildren(...nodes);
  $('latency-summary').textContent = m.count
    ? `${fmt(m.count)} observations, mean ${fmtSeconds(m.sum / m.count)}`
    : 'no observations yet';
}

async function poll() {
  try {
    const res = await fetch('data.json', { cache: 'no-store' });
    if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
    render(await res.json());
    $('status').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (err) {
    $('status').textContent = 'cannot read the figures: ' + err.message;
  }
  setTimeout(poll, pollInterval);
}

// The event types the servers send; an unnamed event is a "message".
const eventTypes = ['Add', 'Remove', 'Update', 'Delete', 'message'];

function follow(path) {
  if (state.eventSource) state.eventSource.close();
  $('tail-events').replaceChildren();
  if (!path) { $('tail-state').textContent = ''; return; }
  const es = state.eventSource = new EventSource('tail?stream=' + encodeURIComponent(path));
  $('tail-state').textContent = 'connecting…';
  es.onopen = () => { $('tail-state').textContent = 'following ' + path; };
  es.onerror = () => { $('tail-state').textContent = es.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting…'; };
  const onEvent = (e) => {
    state.tailCount++;
    $('tail-count').textContent = state.tailCount;
    const li = document.createElement('li');
    let what = e.data;
    try {
      const a = JSON.parse(e.data);
      // An Add's object is the activity added; show it and what it is about.
      const inner = a.object || a;
      const o = inner.object || inner;
      what = [inner.type, o !== inner && o.type, o.content || o.name || o.id].filter(Boolean).join(' ');
    } catch (_) { /* not JSON: shown as it is */ }
    li.textContent = `${new Date().toLocaleTimeString()}  #${e.lastEventId}  ${e.type}  ${what}`;
    const list = $('tail-events');
    list.prepend(li);
    while (list.children.length > tailLength) list.lastChild.remove();
  };
  for (const t of eventTypes) es.addEventListener(t, onEvent);
}

document.addEventListener('DOMContentLoaded', () => {
  const initial = new URLSearchParams(location.search).get('stream') || '';
  $('tail-stream').value = initial;
  $('tail-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const path = $('tail-stream').value.trim();
    window.history.replaceState(null, '', path ? '?stream=' + encodeURIComponent(path) : location.pathname);
    follow(path);
  });
  follow(initial);
  poll();
});
