// sinchsim console: one page over the admin API (/admin/...) and its
// decision stream (GET /admin/events/stream, Server-Sent Events read with
// fetch so that the admin token travels as a header, never in a URL).
// Everything from the backend is put in the page as text, never as HTML.
'use strict';
(() => {
  const TOKEN_KEY = 'sinchsim.adminToken';
  const MAX_DECISIONS = 5000; // kept in memory
  const SHOWN_DECISIONS = 200; // rows in the table
  const $ = (id) => document.getElementById(id);

  const state = {
    running: false,
    now: 0, // backend time, ms since 1970
    mock: false,
    codes: new Map(),
    apps: [],
    inst: { offset: 0, limit: 50, sort: 'created', order: 'asc', app: '', user: '', total: 0, rows: [], req: 0 },
    decisions: [],
    pending: [],
    seenCodes: new Set(),
    lastSeq: 0,
    paused: false,
    stream: null, // AbortController of the open stream
    timers: {},
    ticker: 0,
    view: 'overview',
    kindsLoaded: false,
  };
  // Measured render times of the instance table, newest last (the browser
  // tests read them; they are also handy in the developer tools).
  const perf = { renders: [] };
  window.sinchsimConsole = perf;

  // ---------- small helpers ----------

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
    return e;
  }

  function pad(n) { return String(n).padStart(2, '0'); }

  // fmtTime shows a backend time in UTC, to the second (to the minute
  // when short).
  function fmtTime(ms, short) {
    if (!Number.isFinite(ms)) return '–';
    const d = new Date(ms);
    const day = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
    const minute = `${day} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    return short ? minute : `${minute}:${pad(d.getUTCSeconds())}`;
  }

  // fmtInt writes 10000 as 10,000.
  function fmtInt(n) {
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  }

  // fmtDur shows a duration with its two largest units.
  function fmtDur(ms) {
    const neg = ms < 0;
    let s = Math.floor(Math.abs(ms) / 1000);
    const parts = [];
    for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]]) {
      if (s >= size || (unit === 's' && parts.length === 0)) {
        parts.push(`${Math.floor(s / size)} ${unit}`);
        s %= size;
      }
      if (parts.length === 2) break;
    }
    return (neg ? '−' : '') + parts.join(' ');
  }

  // md puts a documentation text (Markdown with `code`, **bold** and
  // [links](...)) into node, as text and <code>/<strong> elements.
  function md(node, text) {
    node.replaceChildren();
    const re = /`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\([^)]*\)/g;
    let at = 0;
    for (const m of (text || '').matchAll(re)) {
      node.append(text.slice(at, m.index));
      if (m[1] !== undefined) node.append(el('code', { text: m[1] }));
      else if (m[2] !== undefined) node.append(el('strong', { text: m[2] }));
      else node.append(m[3]);
      at = m.index + m[0].length;
    }
    node.append((text || '').slice(at));
  }

  function later(name, fn, ms) {
    if (state.timers[name]) return;
    state.timers[name] = setTimeout(() => {
      state.timers[name] = 0;
      if (state.running) fn();
    }, ms);
  }

  function showError(id, e) {
    $(id).textContent = e ? (e.code ? `${e.code}: ${e.message}` : String(e.message || e)) : '';
  }

  // ---------- the admin API ----------

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.Authorization = 'Bearer ' + token;
    const init = { method, headers, cache: 'no-store', credentials: 'omit' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let r;
    try {
      r = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'unreachable', 'the backend does not answer');
    }
    let data = null;
    try { data = await r.json(); } catch (e) { data = null; }
    if (!r.ok) {
      const err = (data && data.error) || {};
      if (r.status === 401 && state.running) lockOut('The backend refused the admin token; sign in again.');
      throw new ApiError(r.status, err.code || 'http_' + r.status, err.message || r.statusText);
    }
    return data;
  }

  // ---------- sign-in ----------

  async function boot() {
    try {
      await api('GET', '/admin/health');
    } catch (e) {
      if (e.status === 401) {
        const had = sessionStorage.getItem(TOKEN_KEY);
        sessionStorage.removeItem(TOKEN_KEY);
        showSignIn(had ? 'That is not the admin token.' : '');
      } else {
        showRefused(e.status === 403 ? e.message : 'The backend does not answer (' + e.message + '). Reload when it runs.');
      }
      return;
    }
    startApp();
  }

  function showSignIn(message) {
    $('app').hidden = true;
    $('refused').hidden = true;
    $('sign-out').hidden = true;
    $('now-wrap').hidden = true;
    $('signin').hidden = false;
    $('signin-error').textContent = message || '';
    setLive('signed out', false);
    $('signin-token').focus();
  }

  function showRefused(message) {
    $('app').hidden = true;
    $('signin').hidden = true;
    $('refused').hidden = false;
    $('refused-text').textContent = message;
    $('now-wrap').hidden = true;
    setLive('no access', false);
  }

  // lockOut forgets the token and every piece of data on the page.
  function lockOut(message) {
    state.running = false;
    if (state.stream) state.stream.abort();
    clearInterval(state.ticker);
    for (const k of Object.keys(state.timers)) clearTimeout(state.timers[k]);
    state.timers = {};
    sessionStorage.removeItem(TOKEN_KEY);
    state.decisions = [];
    state.pending = [];
    state.inst.rows = [];
    state.lastSeq = 0;
    for (const id of ['instances', 'decisions', 'refusals', 'faults']) $(id).tBodies[0].replaceChildren();
    for (const id of ['apps', 'explain-findings', 'chart']) $(id).replaceChildren();
    for (const id of ['st-connections', 'st-instances', 'st-rate', 'st-registrations', 'st-refusals', 'now', 'clock-big', 'inst-page']) $(id).textContent = '–';
    state.seenCodes.clear();
    const dec = $('dec-code');
    while (dec.options.length > 3) dec.remove(3);
    const apps = $('inst-app');
    while (apps.options.length > 1) apps.remove(1);
    for (const id of ['confirm-text', 'code-title', 'code-kind', 'code-meaning', 'code-fix']) $(id).textContent = '';
    $('app-secret-value').textContent = '';
    $('app-secret').hidden = true;
    $('explain-out').textContent = '';
    $('explain-token').value = '';
    showSignIn(message);
  }

  // ---------- the application ----------

  function startApp() {
    state.running = true;
    $('signin').hidden = true;
    $('refused').hidden = true;
    $('app').hidden = false;
    $('sign-out').hidden = !sessionStorage.getItem(TOKEN_KEY);
    const fromHash = location.hash.slice(1);
    selectView(document.getElementById('tab-' + fromHash) ? fromHash : state.view, false);
    Promise.all([loadCodes(), loadApps(), loadClock()]).catch(() => {});
    loadRecentDecisions().then(openStream);
    loadView();
    clearInterval(state.ticker);
    let n = 0;
    state.ticker = setInterval(() => {
      n++;
      if (state.view === 'instances' && n % 3 === 0) loadInstances(); // "connected" changes without a decision
      if (state.view === 'overview' && n % 5 === 0) loadStats();
      if (state.view === 'faults' && n % 3 === 0) loadFaults(); // others may arm or use them up
      if (state.view === 'applications' && n % 5 === 0) loadApps();
    }, 1000);
  }

  function setLive(text, on) {
    const live = $('live');
    live.textContent = text;
    live.classList.toggle('on', on === true);
    live.classList.toggle('off', on === false);
  }

  // ---------- tabs ----------

  const views = ['overview', 'instances', 'decisions', 'clock', 'faults', 'applications'];

  function selectView(name, focus) {
    state.view = name;
    for (const v of views) {
      const tab = $('tab-' + v);
      const on = v === name;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
      $('view-' + v).hidden = !on;
    }
    if (focus) $('tab-' + name).focus();
    history.replaceState(null, '', '#' + name);
  }

  function loadView() {
    switch (state.view) {
      case 'overview': loadStats(); break;
      case 'instances': loadInstances(); break;
      case 'decisions': renderDecisions(); break;
      case 'clock': loadClock(); break;
      case 'faults': loadFaults(); break;
      case 'applications': loadApps(); break;
    }
  }

  function wireTabs() {
    const list = document.querySelector('[role=tablist]');
    list.addEventListener('click', (ev) => {
      const tab = ev.target.closest('[role=tab]');
      if (!tab) return;
      selectView(tab.id.slice(4), false);
      loadView();
    });
    list.addEventListener('keydown', (ev) => {
      const i = views.indexOf(state.view);
      let j = -1;
      if (ev.key === 'ArrowRight') j = (i + 1) % views.length;
      else if (ev.key === 'ArrowLeft') j = (i + views.length - 1) % views.length;
      else if (ev.key === 'Home') j = 0;
      else if (ev.key === 'End') j = views.length - 1;
      if (j < 0) return;
      ev.preventDefault();
      selectView(views[j], true);
      loadView();
    });
  }

  // ---------- codes ----------

  async function loadCodes() {
    const data = await api('GET', '/admin/codes');
    state.codes = new Map(data.codes.map((c) => [c.code, c]));
  }

  // codeBadge shows a decision's code; a documented code is a button that
  // opens its meaning and fix.
  function codeBadge(code) {
    if (code === 'ok') return el('span', { class: 'badge good', text: 'ok' });
    if (!state.codes.has(code)) return el('span', { class: 'badge bad', text: code });
    return el('button', {
      type: 'button', class: 'badge bad', text: code, 'data-code': code, 'aria-haspopup': 'dialog',
      'aria-label': `${code}: show its meaning and fix`, onclick: () => showCode(code),
    });
  }

  function showCode(code) {
    const c = state.codes.get(code);
    if (!c) return;
    $('code-title').textContent = c.code;
    const facts = [c.kind];
    if (c.domain) facts.push('domain ' + c.domain, c.retryable ? 'retryable' : 'not retryable');
    $('code-kind').textContent = facts.join(' · ');
    md($('code-meaning'), c.meaning);
    md($('code-fix'), c.fix || 'Nothing to fix.');
    $('code').showModal();
    $('code-close').focus();
  }

  // ---------- clock ----------

  async function loadClock() {
    const c = await api('GET', '/admin/clock');
    if (state.running) setClock(c.time, c.mock);
  }

  function setClock(time, mock) {
    const ms = Date.parse(time);
    const moved = ms !== state.now;
    state.now = ms;
    state.mock = mock;
    $('now-wrap').hidden = false;
    $('now').textContent = fmtTime(ms);
    $('now').setAttribute('datetime', time);
    $('clock-big').textContent = fmtTime(ms) + ' UTC';
    $('clock-big').setAttribute('datetime', time);
    $('clock-kind').textContent = mock ? 'virtual clock' : 'real clock';
    $('clock-controls').disabled = !mock;
    $('clock-reason').textContent = mock
      ? 'The backend runs on a virtual clock: it moves only when told, here or through the admin API.'
      : 'The backend runs on the real clock, which cannot be moved: the controls are off. Start it with --clock mock to move time from here.';
    if (moved && state.running) {
      renderInstances(); // bars follow the clock at once
      later('instances', loadInstances, 150);
      if (state.view === 'overview') later('stats', loadStats, 300);
    }
  }

  // goDuration turns "3d" or "1d12h" into a duration Go parses.
  function goDuration(text) {
    return text.trim().replace(/(\d+(?:\.\d+)?)d/g, (_, n) => `${Number(n) * 24}h`);
  }

  async function moveClock(body) {
    showError('clock-error', null);
    try {
      const c = await api('POST', '/admin/clock', body);
      setClock(c.time, c.mock);
    } catch (e) {
      showError('clock-error', e);
    }
  }

  function wireClock() {
    for (const b of document.querySelectorAll('[data-advance]')) {
      b.addEventListener('click', () => moveClock({ advance: b.dataset.advance }));
    }
    $('clock-advance').addEventListener('submit', (ev) => {
      ev.preventDefault();
      moveClock({ advance: goDuration($('clock-custom').value) });
    });
    $('clock-set').addEventListener('submit', (ev) => {
      ev.preventDefault();
      moveClock({ set: $('clock-to').value.trim() });
    });
  }

  // ---------- instances ----------

  async function loadInstances() {
    const s = state.inst;
    const q = new URLSearchParams({ offset: s.offset, limit: s.limit, sort: s.sort, order: s.order });
    if (s.app) q.set('applicationKey', s.app);
    if (s.user) q.set('userContains', s.user);
    const req = ++s.req;
    const t0 = performance.now();
    let data;
    try {
      data = await api('GET', '/admin/instances?' + q);
    } catch (e) {
      $('inst-page').textContent = 'Could not load: ' + e.message;
      return;
    }
    if (req !== s.req || !state.running) return; // a newer request is on its way
    if (data.total > 0 && s.offset >= data.total) { // the last page emptied
      s.offset = Math.max(0, Math.floor((data.total - 1) / s.limit) * s.limit);
      loadInstances();
      return;
    }
    const t1 = performance.now();
    s.rows = data.instances;
    s.total = data.total;
    if (data.time) state.now = Date.parse(data.time);
    renderInstances();
    const t2 = performance.now();
    perf.renders.push({ view: 'instances', rows: s.rows.length, total: s.total, fetchMs: t1 - t0, renderMs: t2 - t1 });
    if (perf.renders.length > 100) perf.renders.shift();
  }

  // renderInstances shows s.rows. A row whose instance did not change is
  // kept (only its TTL bar follows the clock), so that a refresh neither
  // flickers nor takes the focus or the pointer's target away.
  function renderInstances() {
    const s = state.inst;
    const tbody = $('instances').tBodies[0];
    const focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.revoke : undefined;
    const old = new Map();
    for (const tr of tbody.rows) old.set(tr.dataset.instanceId, tr);
    s.rows.forEach((i, k) => {
      const sig = rowSignature(i);
      let tr = old.get(i.id);
      if (!tr || tr.dataset.sig !== sig) {
        tr = instanceRow(i, state.now);
        tr.dataset.sig = sig;
      } else if (tr.dataset.now !== String(state.now)) {
        tr.cells[5].replaceChildren(ttlCell(i, state.now, Number(tr.dataset.renewals)));
        tr.dataset.now = String(state.now);
      }
      if (tbody.rows[k] !== tr) tbody.insertBefore(tr, tbody.rows[k] || null);
    });
    while (tbody.rows.length > s.rows.length) tbody.lastElementChild.remove();
    if (focused && !tbody.contains(document.activeElement)) {
      const again = tbody.querySelector(`button[data-revoke="${CSS.escape(focused)}"]`);
      if (again) again.focus();
    }
    const from = s.total ? s.offset + 1 : 0;
    const to = s.offset + s.rows.length;
    $('inst-page').textContent = s.total ? `${fmtInt(from)}–${fmtInt(to)} of ${fmtInt(s.total)}` : 'No instances';
    $('inst-prev').disabled = s.offset === 0;
    $('inst-next').disabled = to >= s.total;
    for (const th of $('instances').tHead.rows[0].cells) {
      const b = th.querySelector('button[data-sort]');
      if (b) th.setAttribute('aria-sort', b.dataset.sort === s.sort ? (s.order === 'asc' ? 'ascending' : 'descending') : 'none');
    }
  }

  // rowSignature changes whenever what a row shows changes, but the clock.
  function rowSignature(i) {
    return JSON.stringify([i.userId, i.deviceId, i.createdAt, i.expireAt || '', i.renewAt || '',
      (i.history || []).length, i.pushToken ? i.pushType || 'yes' : '', i.connected]);
  }

  function instanceRow(i, now) {
    const renewals = (i.history || []).filter((h) => h.reason === 'extended').length;
    const revoke = el('button', {
      type: 'button', class: 'danger', text: 'Revoke', 'data-revoke': i.id,
      'aria-label': `Revoke instance ${i.id} of ${i.userId}`, onclick: () => confirmRevoke(i),
    });
    return el('tr', { 'data-instance-id': i.id, 'data-user': i.userId, 'data-renewals': renewals, 'data-now': now },
      el('td', { class: 'clip', title: i.userId, text: i.userId }),
      el('td', { class: 'clip', title: i.deviceId, text: i.deviceId }),
      el('td', { class: 'id', title: i.id, text: i.id }),
      el('td', {}, el('time', { datetime: i.createdAt, title: fmtTime(Date.parse(i.createdAt)), text: fmtTime(Date.parse(i.createdAt), true) })),
      el('td', {}, i.expireAt ? el('time', { datetime: i.expireAt, title: fmtTime(Date.parse(i.expireAt)), text: fmtTime(Date.parse(i.expireAt), true) }) : el('span', { class: 'muted', text: 'never' })),
      el('td', {}, ttlCell(i, now, renewals)),
      el('td', {}, yesNo(!!i.pushToken, i.pushType ? `yes (${i.pushType})` : 'yes')),
      el('td', {}, yesNo(i.connected, 'yes')),
      el('td', {}, revoke));
  }

  function yesNo(on, yes) {
    return el('span', { class: on ? 'yes' : 'no', text: on ? yes : 'no' });
  }

  // ttlCell draws an instance's life from creation to expiry: the part
  // gone, the part left (coloured as renewal, then expiry, approach) and a
  // mark at each renewal.
  function ttlCell(i, now, renewals) {
    if (!i.expireAt) return el('span', { class: 'muted', text: 'no TTL' });
    const created = Date.parse(i.createdAt);
    const exp = Date.parse(i.expireAt);
    const hist = i.history || [];
    const granted = hist.length ? Date.parse(hist[hist.length - 1].at) : created;
    const span = Math.max(1, exp - created);
    const left = exp - now;
    const renewAt = i.renewAt ? Date.parse(i.renewAt) : exp;
    let cls = 'ok';
    if (left <= 0) cls = 'expired';
    else if (now >= renewAt) cls = left <= (exp - renewAt) / 4 ? 'expiring' : 'renew';
    const frac = (x) => Math.min(1, Math.max(0, x / span));
    const bar = el('div', {
      class: 'bar ' + cls, role: 'img', 'data-left': frac(left).toFixed(4),
      'aria-label': left > 0 ? `${fmtDur(left)} left of ${fmtDur(exp - granted)}, renewed ${renewals} times` : 'expired',
    });
    const gone = el('div', { class: 'elapsed' });
    gone.style.width = (100 * frac(now - created)) + '%';
    const rest = el('div', { class: 'left' });
    rest.style.width = (100 * frac(left)) + '%';
    bar.append(gone, rest);
    for (const h of hist) {
      if (h.reason !== 'extended') continue;
      const mark = el('span', { class: 'mark' });
      mark.style.left = (100 * frac(Date.parse(h.at) - created)) + '%';
      bar.append(mark);
    }
    const txt = left > 0 ? `${fmtDur(left)} left` : 'expired';
    return el('div', { class: 'ttl' }, bar,
      el('span', { class: 'txt', text: renewals ? `${txt} · renewed ${renewals}×` : txt }));
  }

  function confirmRevoke(i) {
    const dlg = $('confirm');
    $('confirm-text').textContent = `Instance ${i.id} of user ${i.userId} on device ${i.deviceId} is deleted, and a connected client is told at once (instanceRevoked). The client must register anew.`;
    dlg.returnValue = '';
    dlg.onclose = async () => {
      if (dlg.returnValue !== 'ok') return;
      try {
        await api('DELETE', '/admin/instances/' + encodeURIComponent(i.id));
      } catch (e) {
        if (e.code !== 'instance_not_found') {
          $('inst-page').textContent = 'Could not revoke: ' + e.message;
          return;
        }
      }
      const row = $('instances').querySelector(`tr[data-instance-id="${CSS.escape(i.id)}"]`);
      const next = row && (row.nextElementSibling || row.previousElementSibling);
      if (row) row.remove();
      state.inst.rows = state.inst.rows.filter((r) => r.id !== i.id);
      const b = next && next.querySelector('button[data-revoke]');
      (b || $('inst-user')).focus();
      loadInstances();
    };
    dlg.showModal();
    $('confirm-cancel').focus();
  }

  function wireInstances() {
    const s = state.inst;
    $('inst-filters').addEventListener('submit', (ev) => ev.preventDefault());
    $('inst-app').addEventListener('change', () => { s.app = $('inst-app').value; s.offset = 0; loadInstances(); });
    let typing = 0;
    $('inst-user').addEventListener('input', () => {
      clearTimeout(typing);
      typing = setTimeout(() => { s.user = $('inst-user').value.trim(); s.offset = 0; loadInstances(); }, 200);
    });
    $('inst-size').addEventListener('change', () => { s.limit = Number($('inst-size').value); s.offset = 0; loadInstances(); });
    $('inst-prev').addEventListener('click', () => { s.offset = Math.max(0, s.offset - s.limit); loadInstances(); });
    $('inst-next').addEventListener('click', () => { if (s.offset + s.limit < s.total) { s.offset += s.limit; loadInstances(); } });
    $('instances').tHead.addEventListener('click', (ev) => {
      const b = ev.target.closest('button[data-sort]');
      if (!b) return;
      if (s.sort === b.dataset.sort) s.order = s.order === 'asc' ? 'desc' : 'asc';
      else { s.sort = b.dataset.sort; s.order = 'asc'; }
      s.offset = 0;
      loadInstances();
    });
  }

  // ---------- decisions ----------

  async function loadRecentDecisions() {
    try {
      const data = await api('GET', '/admin/events?limit=500');
      if (!state.running) return;
      for (const e of data.events) addDecision(e);
      renderDecisions();
    } catch (e) { /* the stream will try again */ }
  }

  function addDecision(e) {
    if (e.seq <= state.lastSeq) return false;
    state.lastSeq = e.seq;
    state.decisions.push(e);
    if (state.decisions.length > MAX_DECISIONS) state.decisions.splice(0, state.decisions.length - MAX_DECISIONS);
    if (e.code !== 'ok' && !state.seenCodes.has(e.code)) {
      state.seenCodes.add(e.code);
      const sel = $('dec-code');
      const opts = [...sel.options].slice(3).map((o) => o.value).concat(e.code).sort();
      const keep = sel.value;
      while (sel.options.length > 3) sel.remove(3);
      for (const c of opts) sel.add(new Option(c, c));
      sel.value = keep;
    }
    return true;
  }

  function matches(e) {
    const code = $('dec-code').value;
    const user = $('dec-user').value.trim().toLowerCase();
    if (code === '!ok' && e.code === 'ok') return false;
    if (code && code !== '!ok' && e.code !== code) return false;
    if (user && !(e.userId || '').toLowerCase().includes(user)) return false;
    return true;
  }

  function decisionRow(e, fresh) {
    return el('tr', { class: fresh ? 'fresh' : null, 'data-seq': e.seq, 'data-code': e.code, 'data-kind': e.kind },
      el('td', {}, el('time', { datetime: e.time, text: fmtTime(Date.parse(e.time)) })),
      el('td', { text: e.kind }),
      el('td', {}, codeBadge(e.code)),
      el('td', { text: e.userId || '' }),
      el('td', { text: e.deviceId || '' }),
      el('td', { class: 'reason', text: e.reason || '' }));
  }

  function renderDecisions() {
    const frag = document.createDocumentFragment();
    let shown = 0;
    for (let k = state.decisions.length - 1; k >= 0 && shown < SHOWN_DECISIONS; k--) {
      const e = state.decisions[k];
      if (!matches(e)) continue;
      frag.append(decisionRow(e, false));
      shown++;
    }
    $('decisions').tBodies[0].replaceChildren(frag);
    countDecisions();
  }

  function countDecisions() {
    const rows = $('decisions').tBodies[0].rows.length;
    $('dec-count').textContent = `${rows} shown of ${state.decisions.length} received${state.paused ? ' (paused)' : ''}.`;
  }

  // flushDecisions adds the decisions received since the last frame.
  function flushDecisions() {
    const batch = state.pending;
    state.pending = [];
    if (state.paused) return;
    const tbody = $('decisions').tBodies[0];
    const frag = document.createDocumentFragment();
    for (let k = batch.length - 1; k >= 0; k--) if (matches(batch[k])) frag.append(decisionRow(batch[k], true));
    tbody.prepend(frag);
    while (tbody.rows.length > SHOWN_DECISIONS) tbody.lastElementChild.remove();
    countDecisions();
  }

  function onDecision(e) {
    if (!state.running || !addDecision(e)) return;
    state.pending.push(e);
    if (state.pending.length === 1) requestAnimationFrame(flushDecisions);
    later('instances', loadInstances, 150);
    if (state.view === 'overview') later('stats', loadStats, 500);
  }

  function wireDecisions() {
    $('dec-filters').addEventListener('submit', (ev) => ev.preventDefault());
    $('dec-code').addEventListener('change', renderDecisions);
    $('dec-user').addEventListener('input', renderDecisions);
    $('dec-pause').addEventListener('click', () => {
      state.paused = !state.paused;
      $('dec-pause').setAttribute('aria-pressed', String(state.paused));
      $('dec-pause').textContent = state.paused ? 'Resume' : 'Pause';
      renderDecisions();
    });
  }

  // ---------- the decision stream ----------

  async function openStream() {
    let again = false;
    while (state.running) {
      const ctrl = new AbortController();
      state.stream = ctrl;
      try {
        if (again) await checkRestart();
        again = true;
        const headers = { Accept: 'text/event-stream' };
        const token = sessionStorage.getItem(TOKEN_KEY);
        if (token) headers.Authorization = 'Bearer ' + token;
        const r = await fetch('/admin/events/stream?since=' + state.lastSeq, { headers, signal: ctrl.signal, cache: 'no-store', credentials: 'omit' });
        if (r.status === 401) {
          lockOut('The backend refused the admin token; sign in again.');
          return;
        }
        if (!r.ok || !r.body) throw new Error('stream: ' + r.status);
        setLive('live', true);
        await readEvents(r.body);
      } catch (e) {
        if (ctrl.signal.aborted) return;
      }
      if (!state.running) return;
      setLive('reconnecting', false);
      await new Promise((ok) => setTimeout(ok, 1000));
    }
  }

  // checkRestart starts the decisions afresh when the backend's log ends
  // before the last decision seen: it is another backend process, whose
  // sequence numbers started again.
  async function checkRestart() {
    const data = await api('GET', '/admin/events?limit=1');
    const last = data.events.length ? data.events[0].seq : 0;
    if (last >= state.lastSeq) return;
    state.lastSeq = 0;
    state.decisions = [];
    state.pending = [];
    renderDecisions();
    later('instances', loadInstances, 0);
  }

  async function readEvents(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += value;
      let cut;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data += line.slice(6);
        }
        if (!data) continue;
        let msg;
        try { msg = JSON.parse(data); } catch (e) { continue; }
        if (event === 'decision') onDecision(msg);
        else if (event === 'clock' && state.running) setClock(msg.time, msg.mock);
      }
    }
  }

  // ---------- overview ----------

  async function loadStats() {
    let s;
    try { s = await api('GET', '/admin/stats'); } catch (e) { return; }
    if (!state.running) return;
    const n = s.numbers;
    const refusals = Object.entries(n.refusals).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
    $('st-connections').textContent = fmtInt(n.connections);
    $('st-instances').textContent = fmtInt(n.instances);
    $('st-rate').textContent = String(Math.round(s.registrationsPerMinute * 10) / 10);
    $('st-registrations').textContent = fmtInt(n.registrations);
    $('st-refusals').textContent = fmtInt(refusals.reduce((t, r) => t + r[1], 0));
    $('refusals').tBodies[0].replaceChildren(...refusals.map(([code, count]) =>
      el('tr', {}, el('td', {}, codeBadge(code)), el('td', { class: 'num', text: fmtInt(count) }))));
    $('refusals-empty').hidden = refusals.length > 0;
    drawChart(s.lastHour);
  }

  function drawChart(hour) {
    const NS = 'http://www.w3.org/2000/svg';
    const svg = (tag, attrs) => {
      const e = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
      return e;
    };
    // Drawn to the box's width (no stretching, which would distort the text).
    const W = Math.max(300, Math.round($('chart').clientWidth || 600)), H = 120, base = 104, top = 12;
    const max = Math.max(1, ...hour.map((m) => m.registrations + m.refusals));
    const regs = hour.reduce((t, m) => t + m.registrations, 0);
    const refs = hour.reduce((t, m) => t + m.refusals, 0);
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': 'chart-title chart-desc' });
    const desc = svg('desc', { id: 'chart-desc' });
    desc.textContent = `${regs} registrations and ${refs} refusals in the last hour; at most ${max} in one minute.`;
    root.append(desc);
    const bw = W / hour.length;
    hour.forEach((m, k) => {
      const hr = (base - top) * m.registrations / max;
      const hf = (base - top) * m.refusals / max;
      if (hr > 0) root.append(svg('rect', { class: 'reg', x: k * bw + 1, y: base - hr, width: bw - 2, height: hr }));
      if (hf > 0) root.append(svg('rect', { class: 'ref', x: k * bw + 1, y: base - hr - hf, width: bw - 2, height: hf }));
    });
    root.append(svg('line', { class: 'axis', x1: 0, y1: base + 0.5, x2: W, y2: base + 0.5 }));
    const label = (x, anchor, text) => {
      const t = svg('text', { x, y: H - 3, 'text-anchor': anchor });
      t.textContent = text;
      return t;
    };
    root.append(label(2, 'start', '−60 min'), label(W - 2, 'end', 'now'));
    const mx = svg('text', { x: 2, y: top, 'text-anchor': 'start' });
    mx.textContent = `${max} / min`;
    root.append(mx);
    $('chart').replaceChildren(root);
  }

  // ---------- faults ----------

  async function loadFaults() {
    let data;
    try { data = await api('GET', '/admin/faults'); } catch (e) { showError('fault-error', e); return; }
    if (!state.running) return;
    if (!state.kindsLoaded && data.kinds) {
      state.kindsLoaded = true;
      $('fault-kind').replaceChildren(...data.kinds.map((k) => new Option(k === '*' ? '* (any request)' : k, k)));
    }
    $('faults').tBodies[0].replaceChildren(...data.faults.map((f) => {
      let effect = f.drop ? 'drop the connection' : '';
      if (f.code) effect = 'answer ' + f.code;
      if (f.delay) effect = `delay ${f.delay}` + (effect ? ', then ' + effect : '');
      let often = `the next ${f.count}`;
      if (f.probability) often = `${Math.round(f.probability * 1000) / 10} % of requests` + (f.count ? `, ${f.count} more at most` : '');
      return el('tr', {}, el('td', { text: f.kind }), el('td', { text: effect }), el('td', { text: often }));
    }));
    $('faults-empty').hidden = data.faults.length > 0;
    $('faults-clear').disabled = data.faults.length === 0;
  }

  function wireFaults() {
    $('fault-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      showError('fault-error', null);
      const effect = document.querySelector('input[name=fault-effect]:checked').value;
      const mode = document.querySelector('input[name=fault-mode]:checked').value;
      const f = { kind: $('fault-kind').value, count: 0 };
      if (effect === 'drop') f.drop = true;
      else if (effect === 'delay') f.delay = goDuration($('fault-delay').value);
      else f.code = effect;
      if (mode === 'count') f.count = Number($('fault-count').value);
      else f.probability = Number($('fault-prob').value) / 100;
      try {
        await api('POST', '/admin/faults', f);
      } catch (e) {
        showError('fault-error', e);
      }
      loadFaults();
    });
    $('faults-clear').addEventListener('click', async () => {
      try { await api('DELETE', '/admin/faults'); } catch (e) { showError('fault-error', e); }
      loadFaults();
    });
  }

  // ---------- applications and the token tool ----------

  async function loadApps() {
    let data;
    try { data = await api('GET', '/admin/applications'); } catch (e) { showError('app-error', e); return; }
    if (!state.running) return;
    state.apps = data.applications.map((a) => a.key);
    $('apps').replaceChildren(...state.apps.map((k) => el('li', {}, el('code', { text: k }))));
    const sel = $('inst-app');
    const keep = sel.value;
    while (sel.options.length > 1) sel.remove(1);
    for (const k of state.apps) sel.add(new Option(k, k));
    sel.value = state.apps.includes(keep) ? keep : '';
  }

  function wireApps() {
    $('app-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      showError('app-error', null);
      const key = $('app-key').value.trim();
      try {
        const a = await api('POST', '/admin/applications', key ? { key } : {});
        $('app-secret-key').textContent = a.key;
        $('app-secret-value').textContent = a.secret;
        $('app-secret').hidden = false;
        $('app-key').value = '';
        $('app-secret-hide').focus();
      } catch (e) {
        showError('app-error', e);
      }
      loadApps();
    });
    $('app-secret-hide').addEventListener('click', () => {
      $('app-secret-value').textContent = '';
      $('app-secret').hidden = true;
      $('app-key').focus();
    });
    $('explain-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = { token: $('explain-token').value.trim() };
      const user = $('explain-user').value.trim();
      if (user) body.userId = user;
      try {
        const x = await api('POST', '/admin/explain', body);
        $('explain-findings').replaceChildren(...x.findings.map((f) => {
          const sev = f.severity === 'FAIL' ? 'bad' : f.severity === 'PASS' ? 'good' : 'neutral';
          const code = state.codes.has(f.code) && f.severity === 'FAIL' ? codeBadge(f.code) : el('span', { class: 'badge neutral', text: f.code });
          return el('li', { 'data-code': f.code }, el('span', { class: 'badge ' + sev, text: f.severity }), ' ', code, ' ', f.message);
        }));
        const out = $('explain-out');
        out.textContent = x.text + (x.applicationKnown ? '' : '\n(the backend does not know the application named by iss: the signature was not checked)\n');
        out.hidden = false;
      } catch (e) {
        $('explain-findings').replaceChildren(el('li', { class: 'error', text: e.message }));
      }
    });
  }

  // ---------- start ----------

  function wire() {
    wireTabs();
    wireClock();
    wireInstances();
    wireDecisions();
    wireFaults();
    wireApps();
    $('signin-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const t = $('signin-token').value;
      $('signin-token').value = '';
      if (!t) return;
      sessionStorage.setItem(TOKEN_KEY, t);
      boot();
    });
    $('sign-out').addEventListener('click', () => lockOut('Signed out.'));
  }

  wire();
  boot();
})();
