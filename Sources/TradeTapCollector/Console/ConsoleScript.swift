/// The console's script (docs/console.md): plain JavaScript, no framework, no
/// build step. Every text that comes from the API (and so from a trade server:
/// names, comments, summaries) reaches the page through `textContent` or an SVG
/// text node, never through HTML parsing.
enum ConsoleScript {
  static let text = #"""
    'use strict';
    (function () {
      const TOKEN_KEY = 'tradetap.console.token';
      const STATUS_EVERY_MS = 1000;
      const TAIL_ROWS = 500;
      const LATENCY_POINTS = 600;
      const GATEWAYS_EVERY_MS = 5000;
      const SERVER_COLOURS = ['#059669', '#7c3aed', '#d97706', '#0891b2', '#db2777', '#4d7c0f', '#9333ea', '#0f766e'];
      const $ = (id) => document.getElementById(id);
      let token = sessionStorage.getItem(TOKEN_KEY);
      let stream = null;
      let statusTimer = null;
      let lastStatus = null;
      let gatewaysTimer = null;
      const latency = [];
      const kinds = new Set();
      const serverIds = new Set();

      // ---- elements: text only --------------------------------------------------
      function el(tag, text, cls) {
        const e = document.createElement(tag);
        if (text !== undefined && text !== null) e.textContent = String(text);
        if (cls) e.className = cls;
        return e;
      }
      function row(cells) {
        const tr = document.createElement('tr');
        for (const c of cells) {
          if (c instanceof Node) { const td = el('td'); td.appendChild(c); tr.appendChild(td); }
          else if (c && typeof c === 'object') { tr.appendChild(el('td', c.text, c.cls)); }
          else tr.appendChild(el('td', c === null || c === undefined ? '—' : c));
        }
        return tr;
      }
      function num(v, digits) {
        if (v === null || v === undefined) return '—';
        return Number(v).toFixed(digits);
      }
      function lots(volumeExt) {
        if (volumeExt === null || volumeExt === undefined) return '—';
        return (Number(volumeExt) / 1e8).toFixed(2);
      }
      function clear(tbody) { while (tbody.firstChild) tbody.removeChild(tbody.firstChild); }

      // ---- the API: the token only in a header ----------------------------------
      async function api(path, init) {
        const options = Object.assign({ cache: 'no-store' }, init || {});
        options.headers = Object.assign({ 'Authorization': 'Bearer ' + token, 'Accept': 'application/json' }, options.headers || {});
        const reply = await fetch(path, options);
        if (reply.status === 401) { signOut('The collector refused the token.'); throw new Error('unauthorized'); }
        return reply;
      }
      async function json(path) {
        const reply = await api(path);
        const body = await reply.json();
        if (!reply.ok) throw new Error((body.error && body.error.message) || ('HTTP ' + reply.status));
        return body;
      }

      // ---- sign in / out ----------------------------------------------------------
      function showLogin(message) {
        $('login').hidden = false;
        $('nav').hidden = true;
        $('sign-out').hidden = true;
        for (const v of document.querySelectorAll('.view')) v.hidden = true;
        $('login-error').textContent = message || '';
        $('feed-state').textContent = '';
      }
      function signOut(message) {
        sessionStorage.removeItem(TOKEN_KEY);
        token = null;
        if (stream) { stream.abort(); stream = null; }
        if (statusTimer) { clearInterval(statusTimer); statusTimer = null; }
        if (gatewaysTimer) { clearInterval(gatewaysTimer); gatewaysTimer = null; }
        showLogin(message);
      }
      async function signIn(candidate) {
        token = candidate;
        try {
          const reply = await fetch('/v1/status', { cache: 'no-store', headers: { 'Authorization': 'Bearer ' + candidate } });
          if (!reply.ok) { token = null; showLogin(reply.status === 401 ? 'The collector refused the token.' : 'HTTP ' + reply.status); return; }
          sessionStorage.setItem(TOKEN_KEY, candidate);
          start(await reply.json());
        } catch (e) {
          token = null;
          showLogin('The collector did not answer: ' + e.message);
        }
      }
      function start(status) {
        $('login').hidden = true;
        $('nav').hidden = false;
        $('sign-out').hidden = false;
        show(location.hash.slice(1) || 'servers');
        renderStatus(status);
        statusTimer = setInterval(refreshStatus, STATUS_EVERY_MS);
        follow(Math.max(0, Number(status.last_change_id || 0) - 200));
      }

      // ---- views ---------------------------------------------------------------------
      function show(name) {
        if (!$('view-' + name)) name = 'servers';
        for (const v of document.querySelectorAll('.view')) v.hidden = v.id !== 'view-' + name;
        for (const t of document.querySelectorAll('.tab')) t.classList.toggle('active', t.dataset.view === name);
        if (location.hash !== '#' + name) history.replaceState(null, '', '#' + name);
        if (name === 'latency') drawLatency();
        if (gatewaysTimer) { clearInterval(gatewaysTimer); gatewaysTimer = null; }
        if (name === 'gateways') { refreshGateways(); gatewaysTimer = setInterval(refreshGateways, GATEWAYS_EVERY_MS); }
      }

      // ---- servers: /v1/status -------------------------------------------------------
      async function refreshStatus() {
        if (!token) return;
        try { renderStatus(await json('/v1/status')); }
        catch (e) { $('collector-line').textContent = 'status: ' + e.message; }
      }
      function renderStatus(status) {
        lastStatus = status;
        const body = $('servers').tBodies[0];
        clear(body);
        for (const s of status.servers) {
          const state = el('span', s.state, 'state ' + s.state);
          let held = String(s.held_sweeps);
          let heldCell = held;
          if (s.held_sweep_id) {
            heldCell = el('span', held + ' ');
            heldCell.appendChild(applyButton(s.held_sweep_id));
          }
          const tr = row([state, '#' + s.server_id + (s.name ? ' ' + s.name : ''), s.connection,
            { text: num(s.events_per_second, 1), cls: 'num' }, { text: num(s.lag_seconds, 3), cls: 'num' },
            { text: s.last_seq, cls: 'num' }, { text: s.open_gaps, cls: 'num' },
            s.last_event_received_utc, s.last_reconciliation_utc, heldCell]);
          tr.dataset.serverId = String(s.server_id);
          tr.dataset.state = s.state;
          tr.className = 'server ' + s.state;
          body.appendChild(tr);
          addServerOption(s.server_id, s.name);
        }
        const c = status.collector;
        const l = c.hook_to_durable;
        $('collector-line').textContent = 'Collector at ' + c.time_utc + ': ' +
          (c.connections_open === null ? '' : c.connections_open + ' plugin connection(s) open, ') +
          (c.reconciliation_divergences === null ? '' : c.reconciliation_divergences + ' reconciliation divergence(s) since start, ') +
          'hook → durable p50 ' + ms(l.p50_seconds) + ', p99 ' + ms(l.p99_seconds) + ' (last ' + num(l.window_seconds, 0) + ' s).';
        const outputs = $('outputs').tBodies[0];
        clear(outputs);
        for (const o of status.outputs) {
          outputs.appendChild(row([o.name, o.kind, { text: o.lag_changes, cls: 'num' }, { text: num(o.lag_seconds, 1), cls: 'num' },
            { text: o.dead_letters, cls: 'num' }, o.last_error]));
        }
        if (status.outputs.length === 0) outputs.appendChild(row(['no outputs configured', '', '', '', '', '']));
        if (l.p50_seconds !== null && l.p50_seconds !== undefined) {
          const servers = {};
          for (const s of status.servers) {
            const h = s.hook_to_durable;
            if (h && h.p50_seconds !== null && h.p50_seconds !== undefined) {
              servers[s.server_id] = { p50: h.p50_seconds, p99: h.p99_seconds, name: s.name };
            }
          }
          latency.push({ t: Date.now(), p50: l.p50_seconds, p99: l.p99_seconds, servers: servers });
          if (latency.length > LATENCY_POINTS) latency.shift();
        }
        if (!$('view-latency').hidden) drawLatency();
      }
      function ms(seconds) {
        if (seconds === null || seconds === undefined) return '—';
        return (seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1) + ' ms';
      }
      // The table is redrawn every second: each sweep keeps one button, moved into the
      // new row, so a click that spans a redraw still lands.
      const applyButtons = new Map();
      function applyButton(id) {
        let button = applyButtons.get(id);
        if (!button) {
          button = el('button', 'Apply sweep ' + id);
          button.type = 'button';
          button.addEventListener('click', () => applySweep(id));
          applyButtons.set(id, button);
        }
        return button;
      }
      async function applySweep(id) {
        try {
          const reply = await api('/v1/reconciliation/sweeps/' + encodeURIComponent(id) + '/apply', { method: 'POST' });
          const body = await reply.json();
          $('sweep-result').textContent = reply.ok
            ? 'Sweep ' + body.sweep_id + ' applied: ' + body.divergences + ' divergence(s), ' + body.deletions + ' deletion(s).'
            : 'Sweep ' + id + ': ' + ((body.error && body.error.message) || reply.status);
          refreshStatus();
        } catch (e) { $('sweep-result').textContent = 'Sweep ' + id + ': ' + e.message; }
      }
      function addServerOption(id, name) {
        if (serverIds.has(id)) return;
        serverIds.add(id);
        for (const select of [$('account-server'), $('filter-server')]) {
          const o = el('option', '#' + id + (name ? ' ' + name : ''));
          o.value = String(id);
          select.appendChild(o);
        }
      }

      // ---- latency: an SVG chart -------------------------------------------------
      const SVG = 'http://www.w3.org/2000/svg';
      function svg(tag, attributes, text) {
        const e = document.createElementNS(SVG, tag);
        for (const k in attributes) e.setAttribute(k, attributes[k]);
        if (text !== undefined) e.textContent = text;
        return e;
      }
      function drawLatency() {
        const chart = $('latency-chart');
        while (chart.firstChild) chart.removeChild(chart.firstChild);
        const W = 800, H = 300, L = 70, R = 10, T = 10, B = 30;
        chart.appendChild(svg('rect', { x: L, y: T, width: W - L - R, height: H - T - B, class: 'plot' }));
        if (latency.length === 0) {
          chart.appendChild(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'axis' }, 'no events yet'));
          return;
        }
        const t0 = latency[0].t, t1 = Math.max(latency[latency.length - 1].t, t0 + 1000);
        const ids = [];
        for (const p of latency) for (const id in p.servers) if (!ids.includes(id)) ids.push(id);
        ids.sort((a, b) => Number(a) - Number(b));
        const top = Math.max(...latency.map((p) => Math.max(p.p99 || p.p50,
          ...Object.values(p.servers).map((s) => s.p99 || s.p50)))) * 1.1 || 0.001;
        const x = (t) => L + (t - t0) / (t1 - t0) * (W - L - R);
        const y = (v) => T + (1 - v / top) * (H - T - B);
        for (let i = 0; i <= 4; i++) {
          const v = top * i / 4;
          chart.appendChild(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }));
          chart.appendChild(svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, ms(v)));
        }
        chart.appendChild(svg('text', { x: L, y: H - 8, class: 'axis' }, new Date(t0).toISOString().slice(11, 19) + ' UTC'));
        chart.appendChild(svg('text', { x: W - R, y: H - 8, 'text-anchor': 'end', class: 'axis' }, new Date(t1).toISOString().slice(11, 19) + ' UTC'));
        for (const key of ['p50', 'p99']) {
          const points = latency.filter((p) => p[key] !== null).map((p) => x(p.t).toFixed(1) + ',' + y(p[key]).toFixed(1)).join(' ');
          chart.appendChild(svg('polyline', { points: points, class: 'line ' + key }));
        }
        // One line per server: its p99 over the same window.
        const legend = $('latency-servers');
        while (legend.firstChild) legend.removeChild(legend.firstChild);
        const last = latency[latency.length - 1];
        ids.forEach((id, i) => {
          const colour = SERVER_COLOURS[i % SERVER_COLOURS.length];
          const points = latency.filter((p) => p.servers[id] && p.servers[id].p99 !== null)
            .map((p) => x(p.t).toFixed(1) + ',' + y(p.servers[id].p99).toFixed(1)).join(' ');
          chart.appendChild(svg('polyline', { points: points, class: 'line server', stroke: colour, 'data-server-id': id }));
          const now = last.servers[id];
          const item = el('li');
          item.dataset.serverId = id;
          const key = svg('svg', { width: 18, height: 4, class: 'server-key' });
          key.appendChild(svg('rect', { width: 18, height: 4, fill: colour }));
          item.appendChild(key);
          item.appendChild(el('span', ' #' + id + (now && now.name ? ' ' + now.name : '') +
            (now ? ': p50 ' + ms(now.p50) + ', p99 ' + ms(now.p99) : ': no events in the window')));
          legend.appendChild(item);
        });
        $('latency-now').textContent = 'now: p50 ' + ms(last.p50) + ', p99 ' + ms(last.p99);
      }

      // ---- gateways: /v1/gateways and each one's execution quality --------------------
      async function refreshGateways() {
        if (!token) return;
        try {
          const list = await json('/v1/gateways');
          const qualities = await Promise.all(list.gateways.map((g) =>
            json('/v1/gateways/' + encodeURIComponent(g.gateway_id) + '/execution-quality').catch((e) => ({ error: e.message }))));
          renderGateways(list.gateways, qualities);
          $('gateways-error').textContent = '';
        } catch (e) { $('gateways-error').textContent = 'gateways: ' + e.message; }
      }
      function renderGateways(gateways, qualities) {
        const body = $('gateways').tBodies[0];
        clear(body);
        gateways.forEach((g, i) => {
          const q = qualities[i] || {};
          const d = (x, key) => (x ? x[key] : null);
          const rate = q.reject_rate === null || q.reject_rate === undefined ? '—' : (q.reject_rate * 100).toFixed(1) + ' %';
          const tr = row(['#' + g.gateway_id, g.connection, g.last_event_kind, g.last_event_received_utc,
            { text: q.requests === undefined ? '—' : q.requests, cls: 'num' }, { text: rate, cls: 'num' },
            { text: num(d(q.request_to_answer_ms, 'p50'), 1), cls: 'num' }, { text: num(d(q.request_to_answer_ms, 'p99'), 1), cls: 'num' },
            { text: num(d(q.answer_to_first_fill_ms, 'p50'), 1), cls: 'num' }, { text: num(d(q.answer_to_first_fill_ms, 'p99'), 1), cls: 'num' },
            { text: num(d(q.slippage_points, 'mean'), 2), cls: 'num' }, { text: num(d(q.slippage_points, 'p99'), 2), cls: 'num' },
            q.error || '']);
          tr.dataset.gatewayId = String(g.gateway_id);
          tr.className = 'gateway ' + (g.connection === 'connected' ? 'green' : 'red');
          body.appendChild(tr);
        });
        if (gateways.length === 0) {
          const tr = row(['no gateways in the ledger yet', '', '', '', '', '', '', '', '', '', '', '', '']);
          tr.className = 'empty';
          body.appendChild(tr);
        }
        $('gateways-updated').textContent = 'read at ' + new Date().toISOString().slice(11, 19) + ' UTC, every ' + GATEWAYS_EVERY_MS / 1000 + ' s while shown';
      }

      // ---- accounts -------------------------------------------------------------------
      async function lookUp(event) {
        event.preventDefault();
        const server = $('account-server').value, login = $('account-login').value.trim();
        $('account-error').textContent = '';
        if (!/^[0-9]+$/.test(login) || server === '') { $('account-error').textContent = 'Choose a server and type a login.'; return; }
        const base = '/v1/accounts/' + encodeURIComponent(server) + '/' + encodeURIComponent(login);
        try {
          const account = await json(base);
          const [positions, deals, operations] = await Promise.all([
            json(base + '/positions?limit=100'), json(base + '/deals?limit=1000'), json(base + '/balance-operations?limit=1000')]);
          renderAccount(account, positions.items, deals.items.slice(-50).reverse(), operations.items);
        } catch (e) {
          $('account').hidden = true;
          $('account-error').textContent = e.message;
        }
      }
      function renderAccount(a, positions, deals, operations) {
        const facts = $('account-facts');
        while (facts.firstChild) facts.removeChild(facts.firstChild);
        const shown = [['Login', a.login], ['Name', a.name], ['Group', a.group], ['Currency', a.currency], ['Balance', a.balance],
          ['Credit', a.credit], ['Leverage', a.leverage], ['Margin mode', a.margin_mode_name], ['Open positions', a.open_positions],
          ['Comment', a.comment], ['Last update (UTC)', a.last_update_utc], ['Deleted', a.deleted ? 'yes' : 'no']];
        for (const [k, v] of shown) {
          const dt = el('dt', k), dd = el('dd', v === null || v === undefined ? '—' : v);
          dd.dataset.field = k.toLowerCase().replace(/[^a-z]+/g, '-');
          facts.appendChild(dt); facts.appendChild(dd);
        }
        const p = $('account-positions').tBodies[0]; clear(p);
        for (const x of positions) {
          p.appendChild(row([x.position !== undefined ? x.position : x.ticket, x.symbol, x.action === 0 || x.cmd === 0 ? 'buy' : 'sell',
            { text: lots(x.volume_ext), cls: 'num' }, { text: x.price_open, cls: 'num' }, { text: x.profit, cls: 'num' }]));
        }
        const d = $('account-deals').tBodies[0]; clear(d);
        for (const x of deals) {
          d.appendChild(row([x.deal, x.time_utc, x.symbol, x.action, { text: lots(x.volume_ext), cls: 'num' },
            { text: x.price, cls: 'num' }, { text: x.profit, cls: 'num' }, x.comment]));
        }
        const o = $('account-operations').tBodies[0]; clear(o);
        const byType = new Map();
        for (const x of operations) byType.set(x.type, (byType.get(x.type) || 0) + 1);
        $('account-operation-types').textContent = operations.length === 0 ? 'none' :
          Array.from(byType.entries()).map(([t, n]) => t + ': ' + n).join(', ');
        for (const x of operations.slice(-50).reverse()) {
          o.appendChild(row([x.ticket, x.time_utc, x.type, { text: x.amount, cls: 'num' }, x.comment]));
        }
        $('account').hidden = false;
      }

      // ---- changes: the SSE stream, read with fetch so the token stays in a header ----
      function follow(after) {
        const controller = new AbortController();
        stream = controller;
        (async () => {
          let cursor = after;
          while (!controller.signal.aborted) {
            try {
              const reply = await api('/v1/changes/stream?after=' + cursor, { signal: controller.signal, headers: { 'Accept': 'text/event-stream' } });
              if (!reply.ok) throw new Error('HTTP ' + reply.status);
              $('feed-state').textContent = 'change feed: live';
              const reader = reply.body.pipeThrough(new TextDecoderStream()).getReader();
              let buffer = '';
              for (;;) {
                const { value, done } = await reader.read();
                if (done) break;
                buffer += value;
                let end;
                while ((end = buffer.indexOf('\n\n')) >= 0) {
                  const block = buffer.slice(0, end);
                  buffer = buffer.slice(end + 2);
                  const id = onEvent(block);
                  if (id !== null) cursor = id;
                }
              }
            } catch (e) {
              if (controller.signal.aborted) return;
            }
            $('feed-state').textContent = 'change feed: reconnecting';
            await new Promise((r) => setTimeout(r, 1000));
          }
        })();
      }
      function onEvent(block) {
        let data = null, id = null, type = 'message';
        for (const line of block.split('\n')) {
          if (line.startsWith('data: ')) data = line.slice(6);
          else if (line.startsWith('id: ')) id = line.slice(4);
          else if (line.startsWith('event: ')) type = line.slice(7);
        }
        if (type !== 'change' || data === null) return id;
        addChange(JSON.parse(data));
        return id;
      }
      function addChange(c) {
        if (!kinds.has(c.kind)) {
          kinds.add(c.kind);
          const o = el('option', c.kind); o.value = c.kind;
          $('filter-kind').appendChild(o);
        }
        const tr = row([{ text: c.id, cls: 'num' }, '#' + c.server_id, { text: c.seq, cls: 'num' }, c.kind, c.received_utc, c.summary]);
        tr.dataset.serverId = String(c.server_id);
        tr.dataset.kind = c.kind;
        tr.hidden = !matches(tr);
        const body = $('changes').tBodies[0];
        body.insertBefore(tr, body.firstChild);
        while (body.rows.length > TAIL_ROWS) body.deleteRow(body.rows.length - 1);
        countChanges();
      }
      function matches(tr) {
        const server = $('filter-server').value, kind = $('filter-kind').value;
        return (server === '' || tr.dataset.serverId === server) && (kind === '' || tr.dataset.kind === kind);
      }
      function filterChanges() {
        for (const tr of $('changes').tBodies[0].rows) tr.hidden = !matches(tr);
        countChanges();
      }
      function countChanges() {
        const rows = $('changes').tBodies[0].rows;
        let shown = 0;
        for (const tr of rows) if (!tr.hidden) shown++;
        $('changes-count').textContent = shown + ' of the last ' + rows.length + ' changes';
      }

      // ---- wiring -----------------------------------------------------------------------
      document.addEventListener('DOMContentLoaded', () => {
        $('login-form').addEventListener('submit', (event) => {
          event.preventDefault();
          const field = $('token');
          const candidate = field.value.trim();
          field.value = '';
          if (candidate) signIn(candidate);
        });
        $('sign-out').addEventListener('click', () => signOut(''));
        for (const t of document.querySelectorAll('.tab')) t.addEventListener('click', () => show(t.dataset.view));
        $('account-form').addEventListener('submit', lookUp);
        $('filter-server').addEventListener('change', filterChanges);
        $('filter-kind').addEventListener('change', filterChanges);
        if (token) signIn(token); else showLogin('');
      });
    })();
    """#
}
