/* sluice dashboard logic: polls api/v1/status every second, follows api/v1/events (SSE),
 * and draws node cards, live statements, failovers, routing, listeners and the config.
 * Plain DOM, no framework, no external requests. Every value from the daemon enters the
 * page as a Text node, an attribute or a canvas call, never as HTML. */
'use strict';

const POLL_MS = 1000;             // status poll period
const POLL_TIMEOUT_MS = 3000;     // a poll slower than this counts as unreachable
const WINDOW_MS = 5 * 60 * 1000;  // sparkline span
const GAP_MS = 5000;              // samples further apart than this are drawn with a gap
const LIVE_MAX = 60;              // statements kept in the live strip
const EVENTS_MAX = 15;            // health/failover lines kept in "Recent events"
const SSE_RETRY_MS = 2000;        // wait before re-opening an EventSource the browser gave up on
const STATES = ['up', 'down', 'drain', 'maintenance'];
const KINDS = { read: 'R', write: 'W', transaction: 'T' };
const PALETTE = ['#2563eb', '#ea580c', '#0d9488', '#c026d3', '#7c3aed',
	'#0284c7', '#65a30d', '#b45309', '#475569', '#be123c'];

const app = {
	doc: null,                // last status document
	prev: new Map(),          // "cluster/node" -> {t, cur: counters} at the previous poll
	rings: new Map(),         // "cluster/node" -> [{t, read, write, txn, errors}] over WINDOW_MS
	cards: new Map(),         // "cluster/node" -> card refs (buildCard)
	groups: new Map(),        // cluster name -> group refs (buildGroup)
	colors: new Map(),        // node name -> palette slot, in first-seen config order
	failoverKey: '',          // JSON of the failovers last drawn: redraw only on change
	configText: null,         // config text last shown: rewrite only on change
	unreachableSince: null,   // Date of the first failed poll in a row, or null
	lastOk: null,             // Date of the last good poll
	creds: null,              // {user, pass}: this tab's memory only, never stored
	pending: null,            // the action waiting for the modal's credentials
	dropped: 0,               // statements the feed did not show us
	paused: false,
	es: null,
	pollTimer: 0,
};

/* ---------- helpers ---------- */

const $ = (id) => document.getElementById(id);
const num = (v) => (typeof v === 'number' && isFinite(v) ? v : null);
const pad2 = (n) => String(n).padStart(2, '0');
const stateClass = (s) => (STATES.includes(s) ? s : 'unknown');
const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/* el(tag, cls, ...kids): a new element. Kids are nodes or values; a value becomes a Text node
 * (append never parses HTML); null and undefined are skipped. */
function el(tag, cls, ...kids) {
	const e = document.createElement(tag);
	if (cls) e.className = cls;
	e.append(...kids.filter((k) => k !== null && k !== undefined).map((k) => (k instanceof Node ? k : String(k))));
	return e;
}

/* svg(tag, attrs, text): a new SVG element with the given attributes and optional text. */
function svg(tag, attrs, text) {
	const e = document.createElementNS('http://www.w3.org/2000/svg', tag);
	for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
	if (text !== undefined) e.textContent = String(text);
	return e;
}

/* nodesOf(doc): every node of every cluster as {c, n, key}, key = "cluster/node". */
const nodesOf = (doc) => (doc.clusters || []).flatMap((c) =>
	(c.nodes || []).map((n) => ({ c, n, key: `${c.name}/${n.name}` })));

function fmtClock(t) {
	const d = new Date(t);
	return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/* fmtUptime(seconds): "12s", "5m 03s", "4h 12m", "2d 3h". */
function fmtUptime(s) {
	s = Math.floor(num(s) ?? 0);
	const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
	return d ? `${d}d ${h}h` : h ? `${h}h ${pad2(m)}m` : m ? `${m}m ${pad2(s % 60)}s` : `${s}s`;
}

/* fmtSeconds(seconds): a latency in µs, ms or s, or "–" when unknown. */
function fmtSeconds(v) {
	v = num(v);
	if (v === null) return '–';
	if (v < 0.001) return `${Math.round(v * 1e6)} µs`;
	return v < 1 ? `${(v * 1000).toFixed(v < 0.01 ? 2 : 1)} ms` : `${v.toFixed(2)} s`;
}

/* fmtRate(per second): "0", "3.2", "120", "4.5k". */
function fmtRate(v) {
	v = num(v) ?? 0;
	if (v >= 1000) return `${(v / 1000).toFixed(v >= 10000 ? 0 : 1)}k`;
	return v >= 10 || v === 0 ? v.toFixed(0) : v.toFixed(1);
}

const fmtCount = (v) => (num(v) ?? 0).toLocaleString('en-US');

function fmtBytes(v) {
	v = num(v) ?? 0;
	let i = 0;
	for (; v >= 1024 && i < 4; i++) v /= 1024;
	return `${i ? v.toFixed(1) : v} ${['B', 'KiB', 'MiB', 'GiB', 'TiB'][i]}`;
}

/* nodeColor(name): a stable colour per node name: its palette slot in config order, or a
 * hash of the name for a node no status has listed yet. */
function nodeColor(name) {
	let i = app.colors.get(name);
	if (i === undefined) for (const ch of String(name)) i = ((i ?? 0) * 31 + ch.charCodeAt(0)) >>> 0;
	return PALETTE[(i ?? 0) % PALETTE.length];
}

/* niceCeil(v): the smallest 1, 2 or 5 times a power of ten that is >= v (v > 0). */
function niceCeil(v) {
	const mag = Math.pow(10, Math.floor(Math.log10(v)));
	return [1, 2, 5, 10].map((m) => m * mag).find((c) => c >= v - 1e-9);
}

/* ---------- status polling ---------- */

/* schedulePoll(delay): the one pending poll; a new call replaces it. */
function schedulePoll(delay) {
	clearTimeout(app.pollTimer);
	app.pollTimer = setTimeout(poll, delay);
}

/* fetchStatus(): the parsed status document; throws on network error, timeout or non-200. */
async function fetchStatus() {
	const ctl = new AbortController();
	const timer = setTimeout(() => ctl.abort(), POLL_TIMEOUT_MS);
	try {
		const res = await fetch('api/v1/status', { cache: 'no-store', signal: ctl.signal });
		if (!res.ok) throw new Error(`HTTP ${res.status}`);
		return await res.json();
	} finally {
		clearTimeout(timer);
	}
}

async function poll() {
	let doc;
	try {
		doc = await fetchStatus();
	} catch (err) {
		setReachable(false, err);
		return schedulePoll(POLL_MS);
	}
	schedulePoll(POLL_MS);
	setReachable(true);
	app.doc = doc;
	sampleRates(doc);
	render();
}

/* setReachable(ok, err): shows or hides the "unreachable since" banner. The page dims while
 * its data is stale, and recovers by itself on the next good poll (re-opening the feed). */
function setReachable(ok, err) {
	if (ok) {
		app.unreachableSince = null;
		app.lastOk = new Date();
		if (!app.es || app.es.readyState === EventSource.CLOSED) connectEvents();
	} else {
		app.unreachableSince = app.unreachableSince || new Date();
		$('unreachable-text').textContent = `daemon unreachable since ${fmtClock(app.unreachableSince)}`;
		const last = app.lastOk ? `last update ${fmtClock(app.lastOk)}` : 'no data yet';
		$('unreachable-detail').textContent = `${last} · ${(err && err.message) || 'no answer'} · retrying every second`;
	}
	$('unreachable').hidden = ok;
	document.body.classList.toggle('stale', !ok);
}

/* sampleRates(doc): per node, (counter now - counter at the previous poll) / seconds between
 * the two polls' now_ms, pushed on that node's ring. A counter that went down (the daemon
 * restarted) gives no sample. Samples older than WINDOW_MS fall off. */
function sampleRates(doc) {
	const t = num(doc.now_ms) ?? Date.now();
	for (const { n, key } of nodesOf(doc)) {
		const cur = n.counters || {}, prev = app.prev.get(key);
		app.prev.set(key, { t, cur });
		if (!prev || t <= prev.t) continue;
		const d = (k) => (num(cur[k]) ?? 0) - (num(prev.cur[k]) ?? 0);
		if (['reads', 'writes', 'transaction', 'errors', 'connect_failures'].some((k) => d(k) < 0)) continue;
		const dt = (t - prev.t) / 1000;
		const ring = app.rings.get(key) || [];
		ring.push({ t, read: d('reads') / dt, write: d('writes') / dt, txn: d('transaction') / dt,
			errors: d('errors') + d('connect_failures') });
		while (ring[0].t < t - WINDOW_MS) ring.shift();
		app.rings.set(key, ring);
	}
}

/* ---------- rendering: header ---------- */

/* render(): redraws every view from app.doc; cheap enough to run on every poll. */
function render() {
	const doc = app.doc;
	if (!doc) return;
	for (const { n } of nodesOf(doc)) if (!app.colors.has(n.name)) app.colors.set(n.name, app.colors.size);
	renderHeader(doc);
	renderClusters(doc);
	renderSplit(doc);
	renderFailovers(doc);
	renderRouting(doc);
	renderListeners(doc);
	const config = JSON.stringify(doc.config ?? {}, null, 2);
	if (config !== app.configText) $('config-json').textContent = app.configText = config;
	$('download-json').disabled = false;
}

function renderHeader(doc) {
	$('version').textContent = doc.version ? `v${doc.version}` : '';
	$('uptime').textContent = fmtUptime(doc.uptime_seconds);
	$('writers').replaceChildren(...(doc.clusters || []).map((c) =>
		el('span', c.writer ? 'chip' : 'chip bad', el('span', 'chip-label', c.name),
			el('span', null, c.writer ? `writer ${c.writer}` : 'no writer'))));
	$('live-legend').replaceChildren(...[...app.colors.keys()].map((name) => nodeTag('span', 'legend-node', name)));
}

/* nodeTag(tag, cls, name, ...kids): an element carrying the node's colour as --node. */
function nodeTag(tag, cls, name, ...kids) {
	const e = el(tag, cls, ...kids.length ? kids : [name]);
	e.style.setProperty('--node', nodeColor(name));
	return e;
}

/* ---------- rendering: node cards ---------- */

/* renderClusters(doc): one group per cluster, one card per node. Cards are built once and
 * updated in place (buttons keep focus, canvases keep their size), removed when gone. */
function renderClusters(doc) {
	$('connecting')?.remove();
	const seen = new Set();
	(doc.clusters || []).forEach((c, gi) => {
		let g = app.groups.get(c.name);
		if (!g) app.groups.set(c.name, g = buildGroup());
		placeAt($('clusters'), g.root, gi);
		seen.add(c.name);
		let problems = 0;
		(c.nodes || []).forEach((n, ni) => {
			const key = `${c.name}/${n.name}`;
			let card = app.cards.get(key);
			if (!card) app.cards.set(key, card = buildCard(c.name, n.name));
			placeAt(g.grid, card.root, ni);
			seen.add(key);
			problems += updateCard(card, c, n, doc) ? 1 : 0;
		});
		const up = (c.nodes || []).filter((n) => n.state === 'up').length;
		g.title.textContent = c.name;
		g.meta.textContent = `${c.type || ''} · ${up}/${(c.nodes || []).length} up · writer ${c.writer || 'none'}`;
		g.root.classList.toggle('no-problems', problems === 0);
	});
	for (const [k, card] of app.cards) if (!seen.has(k)) { card.root.remove(); app.cards.delete(k); }
	for (const [k, g] of app.groups) if (!seen.has(k)) { g.root.remove(); app.groups.delete(k); }
}

/* placeAt(parent, child, i): makes child the i-th element of parent, moving it only if needed. */
function placeAt(parent, child, i) {
	if (parent.children[i] !== child) parent.insertBefore(child, parent.children[i] || null);
}

function buildGroup() {
	const g = { title: el('h2'), meta: el('span', 'muted'), grid: el('div', 'cards') };
	g.root = el('div', 'cluster', el('div', 'cluster-head', g.title, g.meta),
		el('p', 'empty all-healthy', 'all nodes healthy'), g.grid);
	return g;
}

/* buildCard(cluster, node): the card's fixed skeleton; returns the refs updateCard fills. */
function buildCard(cluster, node) {
	const k = {};
	for (const [name, tag, cls] of [['dot', 'span', 'node-dot'], ['badges', 'span', 'badges'],
		['stateEl', 'span', 'node-state'], ['addr', 'div', 'node-addr'], ['why', 'div', 'node-why'],
		['spark', 'canvas', 'spark'], ['rates', 'div', 'rates'], ['check', 'div', 'check'],
		['lat', 'table', 'latency'], ['galera', 'dl', 'galera'], ['counters', 'div', 'counters'],
		['actions', 'div', 'actions'], ['msg', 'div', 'action-msg']])
		k[name] = el(tag, cls);
	k.root = el('article', 'node-card',
		el('header', 'card-head', k.dot, el('h3', 'node-name', node), k.badges, k.stateEl),
		k.addr, k.why, k.spark, k.rates, k.check, el('div', 'card-body', k.lat, k.galera),
		k.counters, k.actions, k.msg);
	k.root.dataset.cluster = cluster;
	k.root.dataset.node = node;
	return k;
}

/* updateCard(card, cluster, node, doc): fills the card from the status; returns true when
 * the node counts as a problem (not up, not serving, or errors in the last 5 minutes). */
function updateCard(k, c, n, doc) {
	const ring = app.rings.get(`${c.name}/${n.name}`) || [];
	const st = stateClass(n.state), check = n.check || {};
	const recentErrors = ring.some((s) => s.errors > 0);
	const problem = st !== 'up' || check.serving === false || recentErrors;
	k.root.className = `node-card state-${st} ${problem ? 'problem' : 'healthy'}`;
	k.stateEl.textContent = n.state || 'unknown';
	k.dot.style.background = nodeColor(n.name);
	const badge = k.badges.querySelector('.writer-badge');
	if (c.writer === n.name && !badge) k.badges.append(el('span', 'writer-badge', 'writer'));
	if (c.writer !== n.name && badge) badge.remove();
	k.addr.textContent = [n.address, n.role, `weight ${n.weight ?? '–'}`, `priority ${n.priority ?? '–'}`]
		.filter(Boolean).join(' · ');
	k.why.textContent = n.why || `node is ${n.state || 'in an unknown state'}`;
	k.why.hidden = st === 'up';
	drawSpark(k.spark, ring, num(doc.now_ms) ?? Date.now());
	const last = ring[ring.length - 1] || {};
	k.rates.replaceChildren(...[['read', 'reads/s'], ['write', 'writes/s'], ['txn', 'in txn/s']].map(([key, label]) =>
		el('span', `rate ${key}`, el('b', null, fmtRate(last[key])), ` ${label}`)));
	renderCheck(k.check, check, num(doc.now_ms) ?? Date.now());
	k.lat.replaceChildren(el('tr', null, el('th', null, 'latency'), el('th', 'num', 'p50'), el('th', 'num', 'p99')),
		...[['read', 'read'], ['write', 'write'], ['transaction', 'txn']].map(([key, label]) => {
			const l = (n.latency && n.latency[key]) || {};   // a kind that never ran may be absent or null
			return el('tr', null, el('td', null, label), el('td', 'num', fmtSeconds(l.p50)),
				el('td', 'num', fmtSeconds(l.p99)));
		}));
	renderGalera(k.galera, n.galera, (c.nodes || []).length);
	const kc = n.counters || {};
	k.counters.replaceChildren(`${fmtCount(kc.open_connections)} open (${fmtCount(kc.in_use_connections)} in use, ` +
		`${fmtCount(kc.idle_connections)} pooled) · ${fmtCount(kc.pool_reuses)} reused · ` +
		`${fmtCount(kc.pool_waits)} waits · ${fmtCount(kc.statements)} stmts · `,
		el('span', num(kc.errors) > 0 ? (recentErrors ? 'bad' : 'warn') : '', `${fmtCount(kc.errors)} errors`),
		` · ${fmtCount(kc.connects)} connects (${fmtCount(kc.connect_failures)} failed)` +
		` · in ${fmtBytes(kc.bytes_in)} / out ${fmtBytes(kc.bytes_out)}`);
	setActions(k, c.name, n.name, n.state, doc.admin === true);
	return problem;
}

function renderCheck(box, check, nowMs) {
	if (!check.time_ms) return box.replaceChildren('not checked yet');
	const ago = Math.max(0, (nowMs - check.time_ms) / 1000);
	box.replaceChildren(`check ${fmtSeconds(check.duration_seconds)} · `,
		el('span', check.serving === false ? 'verdict bad' : 'verdict ok', check.verdict || '?'),
		` · ${ago < 10 ? ago.toFixed(1) : Math.round(ago)} s ago`);
}

/* renderGalera(dl, galera, nodeCount): Galera's own health; values that hurt are flagged
 * "warn" (amber) or "bad" (red). Hidden when the node reports no Galera data (null). */
function renderGalera(dl, g, nodeCount) {
	dl.hidden = !g;
	if (!g) return dl.replaceChildren();
	const fc = num(g.flow_control_paused_pct), size = num(g.cluster_size);
	const perSec = (v) => (num(v) === null ? '–' : num(v).toFixed(2));
	const rows = [
		['flow ctl paused', fc === null ? '–' : `${fc.toFixed(1)} %`, fc > 10 ? 'bad' : fc > 0 ? 'warn' : ''],
		['recv queue', g.recv_queue ?? '–', num(g.recv_queue) > 0 ? 'warn' : ''],
		['cert fail/s', perSec(g.cert_failures_per_second), num(g.cert_failures_per_second) > 0 ? 'warn' : ''],
		['BF abort/s', perSec(g.bf_aborts_per_second), num(g.bf_aborts_per_second) > 0 ? 'warn' : ''],
		['cluster size', size ?? '–', size !== null && size < nodeCount ? 'warn' : ''],
		['conf id', g.cluster_conf_id ?? '–', ''],
	];
	dl.replaceChildren(el('div', 'galera-title', 'galera'),
		...rows.map(([label, value, cls]) =>
			el('div', `g-item ${cls}`, el('dt', null, label), el('dd', null, value))));
}

/* setActions(card, ...): the drain/maintenance/ready buttons, in the page only when the
 * daemon allows admin actions; the one matching the current state is marked "current". */
function setActions(k, cluster, node, current, admin) {
	k.actions.hidden = !admin;
	if (!admin) return k.actions.replaceChildren();
	if (!k.actions.firstChild) {
		for (const target of ['drain', 'maintenance', 'ready']) {
			const b = el('button', `btn small btn-${target}`, target);
			b.type = 'button';
			b.dataset.target = target;
			b.addEventListener('click', () => requestState({ cluster, node, target, card: k }));
			k.actions.append(b);
		}
	}
	for (const b of k.actions.children)
		b.classList.toggle('current', b.dataset.target === (current === 'up' ? 'ready' : current));
}

/* drawSpark(canvas, ring, tEnd): reads/s and writes/s (and in-transaction/s when any) over
 * the WINDOW_MS ending at tEnd, y from 0 to a round number above the window's peak; a faint
 * area under the reads. Sizes the backing store to the CSS box times devicePixelRatio. */
function drawSpark(canvas, ring, tEnd) {
	const w = canvas.clientWidth, h = canvas.clientHeight, dpr = window.devicePixelRatio || 1;
	if (!w || !h) return; // hidden (problems only): nothing to draw
	if (canvas.width !== Math.round(w * dpr)) canvas.width = Math.round(w * dpr);
	if (canvas.height !== Math.round(h * dpr)) canvas.height = Math.round(h * dpr);
	const ctx = canvas.getContext('2d');
	ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
	ctx.clearRect(0, 0, w, h);
	const peak = niceCeil(Math.max(1, ...ring.map((s) => Math.max(s.read, s.write, s.txn))));
	const top = 14, bottom = h - 2, bw = w / (WINDOW_MS / POLL_MS);
	const x = (t) => w - ((tEnd - t) / WINDOW_MS) * w;
	const y = (v) => bottom - (v / peak) * (bottom - top);
	ctx.strokeStyle = cssVar('--grid');
	ctx.lineWidth = 1;
	ctx.strokeRect(-1, top + 0.5, w + 2, bottom - top);
	ctx.fillStyle = cssVar('--muted');
	ctx.font = '10px system-ui, sans-serif';
	ctx.textAlign = 'left';
	ctx.fillText(`${fmtRate(peak)}/s`, 2, 10);
	ctx.textAlign = 'right';
	ctx.fillText('last 5 min', w - 2, 10);
	for (const [k, color] of [['txn', '--txn'], ['write', '--write'], ['read', '--read']]) {
		if (k === 'txn' && !ring.some((s) => s.txn > 0)) continue;
		ctx.strokeStyle = ctx.fillStyle = cssVar(color);
		ctx.lineWidth = 1.5;
		ctx.beginPath();
		ring.forEach((s, i) => {
			const gap = i === 0 || s.t - ring[i - 1].t > GAP_MS;
			gap ? ctx.moveTo(x(s.t), y(s[k])) : ctx.lineTo(x(s.t), y(s[k]));
		});
		ctx.stroke();
	}
	ctx.globalAlpha = 0.14;   // the reads' area: one bar per sample, its width one poll period
	for (const s of ring) ctx.fillRect(x(s.t) - bw, y(s.read), bw + 0.5, bottom - y(s.read));
	ctx.globalAlpha = 1;
}

/* ---------- rendering: split, failovers, tables ---------- */

/* renderSplit(doc): per node a bar of reads / writes / in-transaction statements since
 * start, its length relative to the busiest node. */
function renderSplit(doc) {
	const nodes = nodesOf(doc);
	const v = (k, key) => num(k[key]) ?? 0;
	const total = (k) => v(k, 'reads') + v(k, 'writes') + v(k, 'transaction');
	const max = Math.max(1, ...nodes.map(({ n }) => total(n.counters || {})));
	$('rw-split').replaceChildren(...nodes.map(({ c, n, key }) => {
		const k = n.counters || {}, sum = total(k);
		const segs = [['reads', 'read'], ['writes', 'write'], ['transaction', 'txn']].map(([f, cls]) => {
			const seg = el('span', `seg ${cls}`);
			seg.style.flexGrow = String(v(k, f));
			return seg;
		});
		const bar = el('div', 'split-bar', ...segs);
		bar.style.width = `${(sum / max) * 100}%`;
		return el('div', 'split-row',
			nodeTag('span', 'split-name', n.name, (doc.clusters || []).length > 1 ? key : n.name),
			el('div', 'split-track', bar),
			el('span', 'split-label', sum ? `${fmtCount(k.reads)} R · ${fmtCount(k.writes)} W · ` +
				`${fmtCount(k.transaction)} T · ${Math.round((v(k, 'reads') / sum) * 100)}% reads` : 'no statements yet'));
	}));
}

/* renderFailovers(doc): newest first, one timeline per failover; redrawn only on change. */
function renderFailovers(doc) {
	const list = (doc.clusters || []).flatMap((c) => (c.failovers || []).map((f) => ({ ...f, cluster: c.name })));
	list.sort((a, b) => (num(b.failed_ms) ?? 0) - (num(a.failed_ms) ?? 0));
	const key = JSON.stringify(list);
	if (key === app.failoverKey) return;
	app.failoverKey = key;
	$('failovers').replaceChildren(...list.length ? list.map((f) => {
		const end = num(f.first_write_ms) ?? num(f.switched_ms);
		const total = end !== null && num(f.failed_ms) !== null ? `${Math.round(end - f.failed_ms)} ms until ` +
			(f.first_write_ms ? 'first write' : 'switch, no write yet') : 'ongoing';
		return el('div', 'failover', el('div', 'failover-head', el('b', null, `#${f.id ?? '?'} ${f.cluster}`),
			` ${f.old_writer ?? '?'} → `, el('span', f.new_writer ? 'ok' : 'bad', f.new_writer ?? 'no writer'),
			el('span', 'muted', ` · at ${f.failed_ms ? fmtClock(f.failed_ms) : '?'} · ${total}` +
				` · ${fmtCount(f.sessions_affected)} sessions affected`)), failoverSvg(f));
	}) : [el('p', 'empty', 'no failover since start')]);
}

/* failoverSvg(f): the phases laid end to end from failed_ms as one horizontal bar, with the
 * Galera conf changes as labelled ticks on the same millisecond axis (0 = failed_ms). A
 * phase missing from f.phases is derived from the timestamps. */
function failoverSvg(f) {
	const W = Math.max(400, $('failovers').clientWidth), H = 84, L = 24, R = 28, BAR_Y = 30, BAR_H = 18, AXIS_Y = 56;
	const t0 = num(f.failed_ms) ?? 0, ph = f.phases || {};
	const phases = [
		['detection', num(ph.detection_ms) ?? (num(f.switched_ms) ?? t0) - t0],
		['switch', num(ph.switch_ms) ?? 0],
		['first write', num(ph.first_write_ms) ??
			(f.first_write_ms && f.switched_ms ? f.first_write_ms - f.switched_ms : 0)],
	];
	const confs = (f.conf_changes || []).map((c) => ({ ...c, at: (num(c.time_ms) ?? t0) - t0 }));
	const lo = Math.min(0, ...confs.map((c) => c.at));
	const hi = Math.max(1, phases.reduce((s, p) => s + Math.max(0, p[1]), 0), ...confs.map((c) => c.at));
	const x = (ms) => L + ((ms - lo) / (hi - lo)) * (W - L - R);
	const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'timeline', role: 'img',
		'aria-label': `failover ${f.id}: ${phases.map(([p, ms]) => `${p} ${ms} ms`).join(', ')}` });
	let at = 0;
	for (const [name, ms] of phases.filter((p) => p[1] > 0)) {
		const x0 = x(at), x1 = x(at += ms), label = `${name} ${ms} ms`;
		const g = svg('g', { class: `ph ph-${name.replace(' ', '-')}` });
		g.append(svg('rect', { x: x0, y: BAR_Y, width: Math.max(1, x1 - x0), height: BAR_H, rx: 3 }),
			svg('title', {}, label));
		if (x1 - x0 > label.length * 6.5 + 8)   // label inside the bar only when it fits
			g.append(svg('text', { x: (x0 + x1) / 2, y: BAR_Y + 13, 'text-anchor': 'middle' }, label));
		s.append(g);
	}
	const step = niceCeil((hi - lo) / 6);
	const axis = svg('g', { class: 'axis' });
	axis.append(svg('line', { x1: x(lo), x2: x(hi), y1: AXIS_Y, y2: AXIS_Y }));
	for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step)
		axis.append(svg('line', { x1: x(v), x2: x(v), y1: AXIS_Y, y2: AXIS_Y + 4 }),
			svg('text', { x: x(v), y: AXIS_Y + 16, 'text-anchor': 'middle' }, `${Math.round(v)} ms`));
	s.append(axis);
	let lastX = -1e9, row = 0;
	for (const c of confs) {
		const cx = x(c.at);
		row = cx - lastX < 130 ? 1 - row : 0;   // alternate label rows when ticks crowd
		lastX = cx;
		const g = svg('g', { class: 'conf' });
		const label = `conf ${c.conf_id ?? '?'}${c.node ? ` · ${c.node}` : ''} @${Math.round(c.at)} ms`;
		g.append(svg('line', { x1: cx, x2: cx, y1: BAR_Y - 4 - row * 11, y2: AXIS_Y }),
			svg('text', { x: cx + 3, y: 10 + row * 11 }, label));
		s.append(g);
	}
	return s;
}

/* renderRouting(doc): routing reasons with a non-zero count, largest first. */
function renderRouting(doc) {
	const reasons = Object.entries((doc.routing && doc.routing.reasons) || {})
		.filter(([, v]) => num(v) > 0).sort((a, b) => b[1] - a[1]);
	$('routing-reasons').replaceChildren(...reasons.length
		? reasons.map(([k, v]) => el('tr', null, el('td', null, k), el('td', 'num', fmtCount(v))))
		: [emptyRow(2, 'no statement routed for a special reason yet')]);
}

function renderListeners(doc) {
	const list = doc.listeners || [];
	$('listeners').replaceChildren(...list.length ? list.map((l) => el('tr', num(l.logins_failed) > 0 ? 'problem' : null,
		el('td', null, l.name), el('td', 'mono', l.bind), el('td', null, l.mode), el('td', null, l.cluster),
		el('td', 'num', fmtCount(l.connections_open)), el('td', 'num', fmtCount(l.connections_total)),
		el('td', 'num', fmtCount(l.logins_failed)))) : [emptyRow(7, 'no listener')]);
}

function emptyRow(span, text) {
	const td = el('td', 'empty', text);
	td.colSpan = span;
	return el('tr', null, td);
}

/* ---------- live feed (SSE) ---------- */

/* connectEvents(): opens api/v1/events. The browser retries a dropped stream by itself; a
 * stream it gave up on (CLOSED, e.g. after a non-200 answer) is re-opened after SSE_RETRY_MS. */
function connectEvents() {
	if (app.es) app.es.close();
	const es = app.es = new EventSource('api/v1/events');
	es.onopen = () => setFeed(true);
	es.onerror = () => {
		setFeed(false);
		if (es.readyState === EventSource.CLOSED)
			setTimeout(() => { if (app.es === es) connectEvents(); }, SSE_RETRY_MS);
	};
	const on = (type, fn) => es.addEventListener(type, (ev) => {
		let data;
		try { data = JSON.parse(ev.data); } catch { return; }
		if (data && typeof data === 'object') fn(data);
	});
	on('statement', onStatement);
	on('health', onHealth);
	on('failover', onFailover);
	on('dropped', (d) => { app.dropped += num(d.count) ?? 0; showDropped(); });
}

function setFeed(live) {
	$('feed-status').className = live ? 'feed on' : 'feed off';
	$('feed-status').textContent = live ? 'feed live' : 'feed reconnecting…';
}

function showDropped() {
	$('dropped').textContent = app.dropped ? `${fmtCount(app.dropped)} not shown ` +
		`(feed limited to ${app.doc?.feed?.max_per_second ?? '?'}/s${app.paused ? ', or paused' : ''})` : '';
}

/* onStatement(s): a block at the head of the live strip, coloured by node, lettered by kind;
 * the strip keeps the newest LIVE_MAX. While paused, statements only count as not shown. */
function onStatement(s) {
	if (app.paused) { app.dropped++; return showDropped(); }
	const kind = KINDS[s.kind] ? s.kind : 'other';
	const item = nodeTag('div', `live-item kind-${kind}`, s.node ?? '',
		el('span', 'live-kind', KINDS[kind] || '?'), el('span', 'live-node', s.node ?? '?'));
	item.dataset.node = s.node ?? '';
	item.dataset.kind = s.kind ?? '';
	item.title = `${s.time_ms ? fmtClock(s.time_ms) : ''} session ${s.session ?? '?'} ${s.user ?? ''}` +
		` via ${s.listener ?? '?'}: ${s.kind ?? '?'} on ${s.node ?? '?'} in ${fmtSeconds(s.duration_seconds)}` +
		(s.reason ? ` (reason: ${s.reason})` : '');
	const strip = $('live-strip');
	strip.prepend(item);
	while (strip.children.length > LIVE_MAX) strip.lastChild.remove();
}

function onHealth(h) {
	logEvent(h.time_ms, `state-${stateClass(h.state)}`, `${h.cluster ?? '?'}/${h.node ?? '?'} ${h.state ?? '?'}` +
		(h.role ? ` (${h.role})` : '') + (h.why ? `: ${h.why}` : ''));
	schedulePoll(0);
}

function onFailover(f) {
	const end = num(f.first_write_ms) ?? num(f.switched_ms);
	logEvent(f.failed_ms, 'state-down', `failover #${f.id ?? '?'} in ${f.cluster ?? '?'}: ` +
		`${f.old_writer ?? '?'} → ${f.new_writer ?? 'no writer'}` +
		(end !== null && f.failed_ms ? ` in ${Math.round(end - f.failed_ms)} ms` : ''));
	schedulePoll(0);
}

function logEvent(timeMs, cls, text) {
	const log = $('events-log');
	log.prepend(el('li', cls, el('time', null, fmtClock(timeMs || Date.now())), el('span', null, text)));
	while (log.children.length > EVENTS_MAX) log.lastChild.remove();
}

/* ---------- admin actions ---------- */

/* requestState(action): action = {cluster, node, target, card}. POSTs it with the remembered
 * credentials, or asks for them first in the modal. */
function requestState(action) {
	if (app.creds) sendState(action, app.creds);
	else openModal(action, '');
}

function openModal(action, error) {
	app.pending = action;
	$('admin-action').textContent = `Set ${action.node} (cluster ${action.cluster}) to ${action.target}.`;
	$('admin-error').textContent = error;
	$('admin-password').value = '';
	if (!$('admin-modal').open) $('admin-modal').showModal();
	($('admin-user').value ? $('admin-password') : $('admin-user')).focus();
}

/* basicAuth(user, pass): the Authorization header value, UTF-8 safe. */
function basicAuth(user, pass) {
	return 'Basic ' + btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${pass}`)));
}

/* sendState(action, creds): the POST. 401 forgets the credentials and reopens the modal;
 * any other failure shows the answer's error text under the card's buttons and in a toast.
 * credentials: 'omit' keeps the browser's own Basic-auth prompt away on a 401 (the
 * Authorization header set here is still sent). */
async function sendState(action, creds) {
	const { cluster, node, target, card } = action;
	const url = `api/v1/clusters/${encodeURIComponent(cluster)}/nodes/${encodeURIComponent(node)}/state`;
	let res, body = {};
	try {
		res = await fetch(url, { method: 'POST', cache: 'no-store', credentials: 'omit',
			headers: { 'Content-Type': 'application/json', 'Authorization': basicAuth(creds.user, creds.pass) },
			body: JSON.stringify({ state: target }) });
		body = await res.json().catch(() => ({}));
	} catch (err) {
		return actionResult(card, false, `${node}: request failed (${err.message})`);
	}
	if (res.status === 401) {
		app.creds = null;
		showAdminSession();
		return openModal(action, body.error || 'wrong user or password (401)');
	}
	app.creds = creds;
	showAdminSession();
	if (!res.ok || body.ok === false) {
		const why = body.error || (res.status === 403 ? 'admin actions are turned off' : `HTTP ${res.status}`);
		return actionResult(card, false, `${node}: ${why}`);
	}
	actionResult(card, true, `${node}: ${target} accepted`);
	schedulePoll(0);
}

/* actionResult(card, ok, text): the answer under the card's buttons (cleared after a while)
 * and in the toast. */
function actionResult(card, ok, text) {
	card.msg.textContent = text;
	card.msg.className = `action-msg ${ok ? 'ok' : 'action-error'}`;
	clearTimeout(card.msgTimer);
	card.msgTimer = setTimeout(() => { card.msg.textContent = ''; }, ok ? 6000 : 20000);
	const t = $('toast');
	t.textContent = text;
	t.className = ok ? 'ok' : 'bad';
	t.hidden = false;
	clearTimeout(t.timer);
	t.timer = setTimeout(() => { t.hidden = true; }, ok ? 4000 : 8000);
}

function showAdminSession() {
	$('admin-session').hidden = !app.creds;
	$('admin-session-user').textContent = app.creds ? `admin: ${app.creds.user}` : '';
}

/* ---------- page wiring ---------- */

/* downloadStatus(): saves the last status document as sluice-status-YYYYMMDD-HHMMSS.json. */
function downloadStatus() {
	if (!app.doc) return;
	const d = new Date();
	const a = el('a');
	a.href = URL.createObjectURL(new Blob([JSON.stringify(app.doc, null, 2)], { type: 'application/json' }));
	a.download = `sluice-status-${d.getFullYear()}${pad2(d.getMonth() + 1)}${pad2(d.getDate())}-` +
		`${fmtClock(d).replaceAll(':', '')}.json`;
	document.body.append(a);
	a.click();
	a.remove();
	setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function init() {
	$('problems-only').addEventListener('change', (e) => {
		document.body.classList.toggle('problems-only', e.target.checked);
		render();
	});
	$('download-json').addEventListener('click', downloadStatus);
	$('live-pause').addEventListener('click', (e) => {
		app.paused = !app.paused;
		e.target.textContent = app.paused ? 'resume' : 'pause';
	});
	$('admin-forget').addEventListener('click', () => { app.creds = null; showAdminSession(); });
	$('admin-cancel').addEventListener('click', () => $('admin-modal').close());
	$('admin-form').addEventListener('submit', (e) => {
		e.preventDefault();
		$('admin-modal').close();
		if (app.pending) sendState(app.pending, { user: $('admin-user').value, pass: $('admin-password').value });
		app.pending = null;
	});
	matchMedia('(prefers-color-scheme: dark)').addEventListener('change', render);
	window.addEventListener('resize', () => { app.failoverKey = ''; render(); });
	setFeed(false);
	connectEvents();
	poll();
}

init();
