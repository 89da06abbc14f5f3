// restpipe inspector (SPEC §13): plain DOM, no library, nothing from the network but this
// node's own /inspect/api. Every string shown comes from a caller or a peer: it is only ever
// set as textContent, never parsed as HTML.
const API = '/inspect/api';
/** Rows in the table at most: the DOM stays small however many events arrive. */
const MAX_ROWS = 200;

const $ = (selector) => document.querySelector(selector);
const eventsBody = $('#events tbody');
const pipesBody = $('#pipes tbody');
const detail = $('#detail');
const filters = $('#filters');
const live = $('#live');

/** The events known here, newest last, at most `capacity` (the node's --inspect-events). */
let events = [];
let capacity = 500;
let captureBodies = false;
let selectedId = null;
let loading = null;

// --- formatting ----------------------------------------------------------------------------

function el(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (className) e.className = className;
  return e;
}
const pad = (n, w = 2) => String(n).padStart(w, '0');
function clock(ms) {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
function duration(ms) {
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}
function bytes(n) {
  if (n === null || n === undefined) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
function statusClass(e) {
  if (e.error !== null && e.status === null) return 'err';
  return e.status === null ? '' : `s${Math.floor(e.status / 100)}`;
}

// --- filters -------------------------------------------------------------------------------

function currentFilter() {
  const f = new FormData(filters);
  return { peer: String(f.get('peer') || '').trim(), noun: String(f.get('noun') || '').trim(), status: String(f.get('status') || '').trim().toLowerCase(), pause: f.get('pause') !== null };
}
function matcher() {
  const { peer, noun, status } = currentFilter();
  let statusTest = () => true;
  if (status === 'error') statusTest = (e) => e.error !== null;
  else if (/^[1-5]xx$/.test(status)) statusTest = (e) => e.status !== null && Math.floor(e.status / 100) === Number(status[0]);
  else if (status !== '') statusTest = (e) => String(e.status) === status;
  return (e) => (peer === '' || e.peer === peer) && (noun === '' || e.noun.includes(noun)) && statusTest(e);
}

// --- the event list ------------------------------------------------------------------------

function eventRow(e) {
  const tr = el('tr');
  tr.dataset.id = String(e.id);
  tr.tabIndex = -1;
  tr.setAttribute('aria-selected', String(e.id === selectedId));
  const status = e.status === null ? (e.error ?? '') : e.status;
  tr.append(
    el('td', clock(e.time)),
    Object.assign(el('td', e.direction === 'outbound' ? 'out' : 'in'), { title: e.direction === 'outbound' ? 'outbound: sent through this node\'s gateway' : 'inbound: handled by this node for its peer' }),
    el('td', e.peer),
    el('td', e.verb.toUpperCase()),
    el('td', e.noun, 'noun'),
    el('td', status, `num ${statusClass(e)}`),
    el('td', e.returnCode, 'num'),
    el('td', duration(e.durationMs), 'num'),
    el('td', bytes(e.requestBytes), 'num'),
    el('td', bytes(e.replyBytes), 'num'),
  );
  tr.lastChild.previousSibling.title = `${e.requestBytes} bytes`;
  return tr;
}

/** Redraws the list from `events` (a filter changed, or the list was loaded). */
function renderEvents() {
  const matches = matcher();
  const frag = document.createDocumentFragment();
  let shown = 0;
  for (let i = events.length - 1; i >= 0 && shown < MAX_ROWS; i--) {
    if (!matches(events[i])) continue;
    frag.append(eventRow(events[i]));
    shown++;
  }
  const focusedId = document.activeElement?.closest?.('#events tr')?.dataset.id;
  eventsBody.replaceChildren(frag);
  if (focusedId) eventsBody.querySelector(`tr[data-id="${focusedId}"]`)?.focus();
  ensureTabStop();
  updateCount();
}

/** New events arrived (oldest first): kept, and shown on top unless paused. */
function addEvents(all) {
  // The list loaded on (re)connecting may already hold some of them.
  const lastId = events.length === 0 ? 0 : events[events.length - 1].id;
  const batch = all.filter((e) => e.id > lastId);
  for (const e of batch) events.push(e);
  if (events.length > capacity) events.splice(0, events.length - capacity);
  if (currentFilter().pause) return updateCount();
  const matches = matcher();
  const frag = document.createDocumentFragment();
  for (let i = batch.length - 1, n = 0; i >= 0 && n < MAX_ROWS; i--) {
    if (!matches(batch[i])) continue;
    frag.append(eventRow(batch[i]));
    n++;
  }
  eventsBody.prepend(frag);
  while (eventsBody.rows.length > MAX_ROWS) eventsBody.lastElementChild.remove();
  ensureTabStop();
  updateCount();
}

function updateCount() {
  $('#count').textContent = `${eventsBody.rows.length} shown of ${events.length} kept (the node keeps ${capacity})${currentFilter().pause ? ', paused' : ''}`;
}

/** One row is reachable with Tab (the selected one, else the first); arrows move from there. */
function ensureTabStop() {
  const current = eventsBody.querySelector('tr[tabindex="0"]');
  const want = eventsBody.querySelector(`tr[data-id="${selectedId}"]`) ?? eventsBody.rows[0];
  if (current === want) return;
  current?.setAttribute('tabindex', '-1');
  want?.setAttribute('tabindex', '0');
}

async function loadEvents() {
  const res = await fetch(`${API}/events?limit=${capacity}`, { cache: 'no-store' });
  const body = await res.json();
  capacity = body.capacity;
  captureBodies = body.captureBodies;
  $('#node').textContent = `${body.role} node${captureBodies ? ', bodies kept' : ''}`;
  events = body.events.reverse();
  renderEvents();
}

// --- selection and detail ------------------------------------------------------------------

function select(id, focus) {
  selectedId = id;
  for (const tr of eventsBody.querySelectorAll('tr[aria-selected="true"]')) tr.setAttribute('aria-selected', 'false');
  const row = eventsBody.querySelector(`tr[data-id="${id}"]`);
  row?.setAttribute('aria-selected', 'true');
  ensureTabStop();
  if (focus) row?.focus();
  const summary = events.find((e) => e.id === id);
  // The summary answers at once; headers and bodies follow from the node.
  showDetail(summary, null);
  const request = (loading = fetch(`${API}/events/${id}`, { cache: 'no-store' }).then((r) => (r.ok ? r.json() : r.json().then((b) => Promise.reject(new Error(b.error?.message ?? r.statusText))))));
  request.then(
    (d) => loading === request && selectedId === id && showDetail(d, d),
    (err) => loading === request && selectedId === id && showDetail(summary, null, err.message),
  );
}

function showDetail(summary, full, problem) {
  const parts = [];
  if (summary === undefined) {
    parts.push(el('p', problem ?? 'this event is no longer kept', 'muted'));
    detail.replaceChildren(...parts);
    return;
  }
  const e = full ?? summary;
  parts.push(el('h3', `#${e.id} ${e.verb.toUpperCase()} ${e.noun}`));
  const dl = el('dl');
  const row = (k, v, cls) => dl.append(el('dt', k), el('dd', v, cls));
  row('time', new Date(e.time).toISOString());
  row('direction', e.direction === 'outbound' ? 'outbound (sent by this node)' : 'inbound (handled by this node)');
  row('peer', e.peer);
  row('status', e.status ?? '—', statusClass(e));
  row('return code', e.returnCode ?? '—');
  if (e.error) row('error', e.error, 'err');
  row('duration', duration(e.durationMs));
  row('request', `${bytes(e.requestBytes)}${full?.requestMimetype ? `, ${full.requestMimetype}` : ''}`);
  row('reply', `${bytes(e.replyBytes)}${full?.replyMimetype ? `, ${full.replyMimetype}` : ''}`);
  if (e.replayOf) row('replay of', `#${e.replayOf}`);
  if (full?.url) row('URL', full.url);
  parts.push(dl);
  if (problem) parts.push(el('p', problem, 'err'));
  if (full === null) {
    if (!problem) parts.push(el('p', 'loading headers…', 'muted'));
  } else {
    if (full.direction === 'outbound' && full.replayable) {
      const button = el('button', 'Replay');
      button.type = 'button';
      button.id = 'replay';
      button.addEventListener('click', () => replay(full.id, button));
      parts.push(el('p'));
      parts[parts.length - 1].append(button, el('span', '', 'muted replay-result'));
    }
    parts.push(...headerSection('Request headers', full.requestHeaders), ...headerSection('Response headers', full.responseHeaders));
    parts.push(...bodySection('Request body', full.requestBody, full.requestBytes), ...bodySection('Reply body', full.replyBody, full.replyBytes));
  }
  detail.replaceChildren(...parts);
}

function headerSection(title, headers) {
  if (headers.length === 0) return [];
  const table = el('table');
  for (const [name, value] of headers) {
    const tr = el('tr');
    tr.append(el('td', name), el('td', value));
    table.append(tr);
  }
  return [el('h4', title), table];
}

function bodySection(title, body, size) {
  if (size === 0) return [el('h4', title), el('p', 'empty', 'muted')];
  if (body === null) return [el('h4', title), el('p', captureBodies ? 'not kept' : 'not kept: start the node with --inspect-bodies to keep the first 10 KiB', 'muted')];
  const note = body.truncated ? ` (first ${bytes(body.encoding === 'base64' ? Math.floor((body.data.length * 3) / 4) : new TextEncoder().encode(body.data).length)} of ${bytes(body.bytes)})` : '';
  return [el('h4', `${title}${note}${body.encoding === 'base64' ? ', base64' : ''}`), el('pre', body.data, 'body')];
}

async function replay(id, button) {
  const out = button.nextElementSibling;
  button.disabled = true;
  out.textContent = ' replaying…';
  try {
    const res = await fetch(`${API}/events/${id}/replay`, { method: 'POST' });
    const body = await res.json();
    out.textContent = res.ok ? ` replayed as #${body.event ?? '?'}: status ${body.status}, return code ${body.returnCode ?? '—'}` : ` ${body.error?.message ?? res.statusText}`;
  } catch (err) {
    out.textContent = ` ${err.message}`;
  } finally {
    button.disabled = false;
  }
}

eventsBody.addEventListener('click', (ev) => {
  const tr = ev.target.closest('tr[data-id]');
  if (tr) select(Number(tr.dataset.id), true);
});
eventsBody.addEventListener('keydown', (ev) => {
  const tr = ev.target.closest('tr[data-id]');
  if (!tr) return;
  let next = null;
  if (ev.key === 'ArrowDown') next = tr.nextElementSibling;
  else if (ev.key === 'ArrowUp') next = tr.previousElementSibling;
  else if (ev.key === 'Home') next = eventsBody.firstElementChild;
  else if (ev.key === 'End') next = eventsBody.lastElementChild;
  else if (ev.key === 'Enter' || ev.key === ' ') {
    ev.preventDefault();
    select(Number(tr.dataset.id), true);
    return;
  } else return;
  ev.preventDefault();
  if (next) {
    tr.tabIndex = -1;
    next.tabIndex = 0;
    next.focus();
  }
});
filters.addEventListener('input', renderEvents);
filters.addEventListener('submit', (ev) => ev.preventDefault());

// --- pipes ---------------------------------------------------------------------------------

function renderPipes(pipes) {
  const peers = new Set();
  const rows = pipes.map((p) => {
    peers.add(p.name);
    const tr = el('tr');
    tr.dataset.peer = p.name;
    tr.dataset.state = p.state;
    const state = el('td', p.state, `state-${p.state}`);
    if (p.closeReason) state.title = p.closeReason;
    tr.append(
      el('td', p.name),
      state,
      el('td', p.address ?? ''),
      el('td', p.state === 'open' ? new Date(p.connectedSince).toLocaleString() : `closed ${new Date(p.closedAt).toLocaleTimeString()}: ${p.closeReason ?? ''}`),
      el('td', p.reconnects, 'num'),
      el('td', p.rttMs === null ? '' : duration(p.rttMs), 'num'),
      el('td', p.bytes ? bytes(p.bytes.sent) : '', 'num'),
      el('td', p.bytes ? bytes(p.bytes.received) : '', 'num'),
      el('td', p.inFlight ? `${p.inFlight.outbound} / ${p.inFlight.inbound}` : '', 'num'),
    );
    return tr;
  });
  if (rows.length === 0) {
    const tr = el('tr', undefined, 'empty');
    const td = el('td', 'no pipe yet');
    td.colSpan = 9;
    tr.append(td);
    rows.push(tr);
  }
  pipesBody.replaceChildren(...rows);
  $('#peers').replaceChildren(...[...peers].map((name) => Object.assign(document.createElement('option'), { value: name })));
}

// --- live feed -----------------------------------------------------------------------------

function connect() {
  const source = new EventSource(`${API}/live`);
  source.addEventListener('open', () => {
    live.textContent = 'live';
    live.className = 'live on';
    // Anything recorded while the feed was down is in the list.
    loadEvents().catch(() => {});
  });
  source.addEventListener('error', () => {
    live.textContent = 'reconnecting…';
    live.className = 'live off';
  });
  source.addEventListener('pipes', (m) => renderPipes(JSON.parse(m.data)));
  source.addEventListener('events', (m) => {
    const { events: batch, skipped } = JSON.parse(m.data);
    if (skipped > 0) loadEvents().catch(() => {});
    else addEvents(batch);
  });
}

connect();
