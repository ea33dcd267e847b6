// The lakeloop console: renders GET /api/console, kept live by Server-Sent Events from
// GET /api/events (falls back to polling /api/console). Plain ES module, no build step.
// Everything user-controlled is written with textContent, never as HTML.

const $ = (id) => document.getElementById(id);
const fmt = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'));
const rate = (n) => `${fmt(Math.round((n ?? 0) * 10) / 10)}/s`;
const SVG = 'http://www.w3.org/2000/svg';

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
  const node = tag.startsWith('svg:') ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const child of children.flat()) if (child !== undefined && child !== null) node.append(child instanceof Node ? child : String(child));
  return node;
}

function ago(iso) {
  if (!iso) return '–';
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 172800) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

function bytes(n) {
  if (n === null || n === undefined) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

const sum = (items, f) => items.reduce((a, x) => a + (f(x) ?? 0), 0);

let state = { decisions: [] };

function render(data) {
  state = { ...state, ...data, decisions: data.decisions ?? state.decisions };
  const status = state.status ?? {};
  $('lake-root').textContent = status.lake ? `lake ${status.lake}` : '';
  $('uptime').textContent = status.uptimeSeconds !== undefined ? `up ${fmt(Math.round(status.uptimeSeconds))} s` : '';
  renderPipeline(status);
  renderControl(state.control ?? {}, state.lastDecision ?? state.decisions.at(-1) ?? null);
  renderDecisions(state.decisions);
  renderTables(state.lake, status.conditions ?? []);
  renderRuns(status, state.jobs ?? []);
  renderLineage(state.lineage);
  renderPartitions(status.partitions, state.partitionsBehind ?? []);
  renderReconcile(state.reconcile ?? { available: false });
  renderContracts(state.contracts ?? [], state.modelChecklist ?? [], state.status?.sourceCompleteness ?? []);
}

function renderPipeline(status) {
  const sources = status.sources ?? [];
  const models = status.models ?? [];
  const layer = (prefix) => models.filter((m) => m.model.startsWith(prefix));
  $('stat-received').textContent = fmt(sum(sources, (s) => s.received));
  $('rate-received').textContent = rate(sum(sources, (s) => s.perSecond.received));
  $('stat-pending').textContent = fmt(sum(sources, (s) => s.pending));
  $('stat-landed').textContent = fmt(sum(sources, (s) => s.landed));
  $('rate-landed').textContent = rate(sum(sources, (s) => s.perSecond.landed));
  $('stat-quarantined').textContent = fmt(sum(sources, (s) => s.quarantined));
  $('stat-duplicates').textContent = fmt(sum(sources, (s) => s.duplicates));
  for (const name of ['silver', 'gold']) {
    const ms = layer(`${name}.`);
    $(`stat-transformed-${name}`).textContent = fmt(sum(ms, (m) => m.rowsTransformed));
    $(`rate-transformed-${name}`).textContent = rate(sum(ms, (m) => m.rowsTransformedPerSecond));
  }
  $('stat-deferred').textContent = fmt(sum(models, (m) => m.deferredLate));
  $('stat-served').textContent = fmt(status.served?.rows ?? 0);
  const fresh = layer('gold.').map((m) => m.freshnessSeconds).filter((s) => s !== null && s !== undefined);
  $('stat-freshness').textContent = fresh.length ? `${Math.max(...fresh).toFixed(1)} s` : '–';
  const backlog = status.backlog ?? { active: false, reasons: [] };
  const box = $('divergence');
  box.replaceChildren();
  box.classList.toggle('diverging', backlog.active);
  if (backlog.active) {
    box.append(el('strong', {}, 'DIVERGING: '), 'rates drift apart, a backlog is growing', el('ul', {}, backlog.reasons.map((r) => el('li', {}, r))));
  } else {
    box.append(el('strong', {}, 'IN STEP: '), sources.length ? 'ingest, landing and transform keep up with each other' : 'no data yet');
  }
}

function renderControl(control, last) {
  const mode = control.mode ?? 'off';
  const badge = $('mode');
  badge.textContent = mode === 'auto' ? 'AUTO' : mode === 'paused' ? 'PAUSED' : 'OFF (no models run)';
  badge.className = `badge ${mode}`;
  const active = control.active;
  $('active-step').textContent = active
    ? `running ${active.running ?? '…'} (${active.done.length + (active.running ? 1 : 0)} of ${active.models.length}), since ${ago(active.startedAt)}`
    : mode === 'paused' ? 'none (paused)' : 'idle';
  $('waiting').textContent = control.waiting?.length ? `landed, not yet run: ${control.waiting.join('; ')}` : '';
  const disabled = mode === 'off' || control.tokenConfigured === false;
  for (const id of ['btn-pause', 'btn-step', 'btn-resume']) $(id).disabled = disabled;
  $('btn-pause').disabled = disabled || mode === 'paused';
  $('btn-resume').disabled = disabled || mode === 'auto';
  if (control.tokenConfigured === false && !$('control-message').dataset.sticky) {
    $('control-message').textContent = 'controls disabled: serve was started without --control-token';
  }
  const p = $('last-decision');
  p.replaceChildren();
  if (last) {
    p.append(el('time', { datetime: last.at, class: 'muted' }, `${new Date(last.at).toLocaleTimeString()} · ${last.trigger} · `), last.text);
    p.dataset.id = String(last.id);
  } else p.textContent = 'none yet';
}

function renderDecisions(decisions) {
  const list = $('decisions');
  const newestFirst = [...decisions].reverse().slice(0, 100);
  list.replaceChildren(...newestFirst.map((d) => el('li', { 'data-id': d.id },
    el('time', { datetime: d.at }, new Date(d.at).toLocaleTimeString()),
    el('span', { class: `kind ${d.kind}` }, `[${d.kind}${d.trigger === 'auto' ? '' : `, ${d.trigger}`}]`),
    d.text)));
  list.setAttribute('start', String(decisions.length));
}

/**
 * A table's SLOs and alerts now (from /status conditions; a bronze table answers for its
 * source): what fires, else the freshness and completeness objectives it meets, else none.
 */
function sloCell(name, conditions) {
  const source = name.startsWith('bronze.') ? name.slice('bronze.'.length) : undefined;
  const mine = conditions.filter((c) => c.subject === name || (source !== undefined && c.subject === source && (c.key.includes(':source:') || c.kind === 'quarantine_rate')));
  const firing = mine.filter((c) => c.firing);
  if (firing.length) return el('td', { 'data-col': 'slo', 'data-slo': 'breach', title: firing.map((c) => c.message).join('\n') }, el('span', { class: 'status-word failed' }, `BREACH: ${firing.map((c) => c.kind).join(', ')}`));
  const objectives = [...new Set(mine.filter((c) => c.kind === 'freshness' || c.kind === 'completeness').map((c) => c.kind))];
  if (objectives.length) return el('td', { 'data-col': 'slo', 'data-slo': 'met' }, el('span', { class: 'status-word ok' }, `met: ${objectives.join(', ')}`));
  return el('td', { 'data-col': 'slo', 'data-slo': 'none', class: 'muted' }, 'none declared');
}

/** The data tests of a model's last run: how many passed, and the failing ones by name. */
function testsCell(tests) {
  if (!tests.length) return el('td', { 'data-col': 'tests', class: 'muted' }, '–');
  const failing = tests.filter((t) => t.status !== 'pass');
  if (!failing.length) return el('td', { 'data-col': 'tests', 'data-tests': 'pass' }, `${tests.length} passed`);
  return el('td', { 'data-col': 'tests', 'data-tests': 'fail' }, el('span', { class: 'status-word failed' }, failing.map((t) => `${t.status.toUpperCase()} ${t.test} (${fmt(t.failures)} rows)`).join('; ')), tests.length > failing.length ? ` · ${tests.length - failing.length} passed` : '');
}

function renderTables(lake, conditions = []) {
  const host = $('tables');
  const tables = lake?.tables ?? [];
  if (!tables.length) return host.replaceChildren(el('p', { class: 'muted' }, 'no tables yet'));
  const layers = [...new Set(tables.map((t) => t.layer))];
  host.replaceChildren(...layers.map((layer) => el('table', { 'data-layer': layer },
    el('caption', { class: 'muted', style: 'text-align:left' }, layer),
    el('thead', {}, el('tr', {}, el('th', {}, 'table'), el('th', { class: 'num' }, 'version'), el('th', { class: 'num' }, 'files'), el('th', { class: 'num' }, 'rows'), el('th', { class: 'num' }, 'bytes'), el('th', {}, 'last commit (freshness)'), el('th', {}, 'SLOs now'))),
    el('tbody', {}, tables.filter((t) => t.layer === layer).map((t) => el('tr', { id: `table-${t.name}`, 'data-table': t.name, class: location.hash === `#table-${t.name}` ? 'target' : undefined },
      el('td', {}, t.name), el('td', { class: 'num', 'data-col': 'version' }, fmt(t.version)), el('td', { class: 'num' }, fmt(t.files)),
      el('td', { class: 'num', 'data-col': 'rows' }, fmt(t.rows)), el('td', { class: 'num' }, bytes(t.sizeBytes)), el('td', {}, ago(t.lastCommit)), sloCell(t.name, conditions))))),
  ));
}

/** A run status's word colour: a skipped run did nothing, which is neither a success nor a failure. */
const STATUS_CLASS = { succeeded: 'ok', running: 'running', skipped: 'skipped', skipped_overlap: 'skipped' };

function renderRuns(status, jobs) {
  const streaming = status.streaming;
  const models = status.models ?? [];
  const host = $('runs');
  if (!streaming) host.replaceChildren(el('p', { class: 'muted' }, 'no streaming runs: this serve runs no models'));
  else {
    const counters = new Map(models.map((m) => [m.model, m]));
    host.replaceChildren(
      el('p', {}, `${fmt(streaming.runs)} streaming runs${streaming.paused ? ' — paused' : ''}`),
      el('table', { id: 'runs-table' },
        el('thead', {}, el('tr', {}, el('th', {}, 'model'), el('th', {}, 'last run'), el('th', { class: 'num' }, 'version'), el('th', { class: 'num' }, 'rows written'), el('th', {}, 'partitions'), el('th', { class: 'num' }, 'seconds'), el('th', { class: 'num' }, 'read / written / CPU'), el('th', {}, 'tests'), el('th', { class: 'num' }, 'ok / failed'), el('th', {}, 'when'))),
        el('tbody', {}, streaming.last.map((s) => {
          const c = counters.get(s.model);
          const failed = c?.runs?.failed ?? 0;
          return el('tr', {},
            el('td', {}, el('a', { href: `#table-${s.model}` }, s.model)), el('td', {}, s.mode),
            el('td', { class: 'num' }, fmt(s.version)), el('td', { class: 'num' }, fmt(s.rowsOut)),
            el('td', {}, s.partitions === 'all' ? 'all' : s.partitions.length > 3 ? `${s.partitions.length} partitions` : s.partitions.join(', ') || '–'),
            el('td', { class: 'num' }, s.seconds.toFixed(2)),
            el('td', { class: 'num', 'data-cost': s.cost ? 'yes' : 'no' }, s.cost ? `${bytes(s.cost.bytesRead)} (${fmt(s.cost.filesRead)} files) / ${bytes(s.cost.bytesWritten)} / ${s.cost.cpuSeconds.toFixed(2)} s` : '–'),
            testsCell(s.tests ?? []),
            el('td', { class: 'num' }, el('span', { class: `status-word ${failed ? 'failed' : 'ok'}` }, `${fmt(c?.runs?.success ?? 0)} / ${fmt(failed)}${failed ? ' FAILED' : ''}`)),
            el('td', {}, ago(c?.lastRun?.at)));
        }))));
  }
  renderBudgets(status.budgetChecks ?? []);
  const jobsHost = $('jobs');
  if (!jobs.length) return jobsHost.replaceChildren(el('p', { class: 'muted' }, 'no scheduled jobs (jobs/*.ts) and no reconcile started from this page or the API yet'));
  jobsHost.replaceChildren(el('table', { id: 'jobs-table' },
    el('thead', {}, el('tr', {}, el('th', {}, 'job'), el('th', {}, 'kind'), el('th', {}, 'schedule'), el('th', {}, 'next fire'), el('th', {}, 'last run'), el('th', {}, 'trigger'), el('th', { class: 'num' }, 'duration'), el('th', {}, 'error'))),
    el('tbody', {}, jobs.map((j) => el('tr', { 'data-job': j.name },
      el('td', {}, j.name), el('td', {}, j.kind), j.onDemand ? el('td', { title: 'no schedule: runs when the Reconcile form or lakeloop control reconcile asks' }, 'on demand') : el('td', {}, `${j.schedule} (${j.timezone})`),
      el('td', {}, j.onDemand ? '–' : j.enabled ? (j.next ?? '–') : 'disabled'),
      el('td', { 'data-col': 'last', 'data-status': j.last?.status ?? 'never' }, j.last ? el('span', { class: `status-word ${STATUS_CLASS[j.last.status] ?? 'failed'}`, title: j.last.startedAt }, `${j.last.status.toUpperCase()} ${ago(j.last.startedAt)}`) : 'never ran'),
      el('td', { 'data-col': 'trigger' }, j.last ? j.last.requestedBy ?? j.last.trigger : '–'),
      el('td', { class: 'num', 'data-col': 'duration' }, duration(j.last)),
      el('td', {}, j.last?.error ? j.last.error.message ?? String(j.last.error) : j.last?.reason ? `skipped: ${j.last.reason}` : ''))))));
}

/** A run's wall time: as recorded once it ended, the time so far while it runs. */
function duration(run) {
  if (!run) return '–';
  if (run.seconds !== null && run.seconds !== undefined) return `${run.seconds.toFixed(1)} s`;
  return run.status === 'running' ? `${Math.max(0, Math.round((Date.now() - Date.parse(run.startedAt)) / 1000))} s so far` : '–';
}

/** The last scan-budget check of each subject (`/status` budgetChecks): over (refused or warned) or within. */
function renderBudgets(checks) {
  const host = $('budgets');
  if (!checks.length) return host.replaceChildren(el('p', { class: 'muted' }, 'no budget checked yet (budgets.maxBytesScannedPerRun in lakeloop.config.ts)'));
  host.replaceChildren(el('table', { id: 'budgets-table' },
    el('thead', {}, el('tr', {}, el('th', {}, 'subject'), el('th', {}, 'last check'), el('th', { class: 'num' }, 'estimated scan'), el('th', { class: 'num' }, 'budget'), el('th', {}, 'mode'), el('th', {}, 'message'))),
    el('tbody', {}, checks.map((c) => el('tr', { 'data-subject': c.subject, 'data-over': String(c.over) },
      el('td', {}, c.subject),
      el('td', {}, el('span', { class: `status-word ${c.over ? 'failed' : 'ok'}` }, c.over ? (c.mode === 'refuse' ? 'OVER: REFUSED' : 'OVER: WARNED') : 'WITHIN')),
      el('td', { class: 'num' }, bytes(c.estimatedBytes)), el('td', { class: 'num' }, bytes(c.budgetBytes)), el('td', {}, c.mode),
      el('td', {}, c.over ? c.message : ''))))));
}

let drawnLineage = '';
function renderLineage(graph) {
  if (!graph) return;
  const key = JSON.stringify(graph);
  if (key === drawnLineage) return;
  drawnLineage = key;
  const columns = ['source', 'bronze', 'silver', 'gold'];
  const others = [...new Set(graph.nodes.map((n) => n.layer).filter((l) => !columns.includes(l)))];
  const order = [...columns, ...others];
  const byColumn = order.map((layer) => graph.nodes.filter((n) => n.layer === layer));
  const w = 190, h = 34, gapX = 60, gapY = 14, pad = 24;
  const pos = new Map();
  byColumn.forEach((nodes, c) => nodes.forEach((n, r) => pos.set(n.id, { x: pad + c * (w + gapX), y: pad + 18 + r * (h + gapY) })));
  const rows = Math.max(1, ...byColumn.map((c) => c.length));
  const width = pad * 2 + order.length * w + (order.length - 1) * gapX;
  const height = pad * 2 + 18 + rows * (h + gapY);
  const svg = el('svg:svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': 'lineage: sources to bronze to silver to gold' },
    el('svg:defs', {}, el('svg:marker', { id: 'arrowhead', markerWidth: 8, markerHeight: 8, refX: 8, refY: 4, orient: 'auto' }, el('svg:path', { d: 'M0,0 L8,4 L0,8 z', fill: '#5b6570' }))),
    order.map((layer, c) => el('svg:text', { x: pad + c * (w + gapX), y: pad, 'font-size': 13, fill: '#5b6570' }, layer === 'source' ? 'sources' : layer)),
    graph.edges.map((e) => {
      const a = pos.get(e.from), b = pos.get(e.to);
      if (!a || !b) return null;
      return el('svg:line', { x1: a.x + w, y1: a.y + h / 2, x2: b.x - 2, y2: b.y + h / 2, stroke: '#5b6570', 'marker-end': 'url(#arrowhead)' });
    }),
    graph.nodes.map((n) => {
      const p = pos.get(n.id);
      const label = n.id.startsWith('source:') ? n.id.slice(7) : n.id;
      const box = [el('svg:rect', { x: p.x, y: p.y, width: w, height: h, rx: 5, fill: '#f6f8fa', stroke: '#57606a' }),
        el('svg:text', { x: p.x + 8, y: p.y + 21, 'font-size': 13 }, label.length > 26 ? `${label.slice(0, 25)}…` : label),
        el('svg:title', {}, `${n.id}${n.kind ? ` (${n.kind})` : ''}`)];
      return n.layer === 'source' ? el('svg:g', { 'data-node': n.id }, box) : el('svg:a', { href: `#table-${n.id}`, 'data-node': n.id }, box);
    }));
  $('lineage').replaceChildren(svg);
}

// ---- partition status -------------------------------------------------------------
const STATUSES = ['exact', 'provisional', 'pending_late', 'stale_code', 'held', 'missing'];
let openPartitions = null; // { table, key } of the drill-down shown

function lateness(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

/**
 * A table whose status was computed for an older version than the table is at now: its old
 * counts would read as current, so the row says it is computing and for which version it was
 * last computed, until the background computation catches up.
 */
function computingCell(behind) {
  return el('td', { colspan: STATUSES.length, class: 'computing', 'data-col': 'computing' },
    el('strong', {}, 'computing…'), ` (last computed for version ${fmt(behind.computedFor)})`);
}

function renderPartitions(summary, behindList) {
  const host = $('partition-status');
  const tables = Object.entries(summary ?? {});
  const behind = new Map(behindList.map((b) => [b.table, b]));
  $('partitions-note').textContent = !summary ? 'not computed yet (after the first commits)'
    : behind.size ? `computing in the background: ${[...behind.keys()].join(', ')} moved since the last computation`
    : 'computed in the background after each commit; a table is read again only when its version moved';
  if (!tables.length) {
    host.replaceChildren(el('p', { class: 'muted' }, 'no model tables yet'));
    return;
  }
  host.replaceChildren(el('table', { id: 'partition-table' },
    el('thead', {}, el('tr', {}, el('th', {}, 'table'), el('th', { class: 'num' }, 'version'), STATUSES.map((k) => el('th', { class: 'num' }, k)), el('th', {}, 'plan'), el('th', {}, 'not exact'))),
    el('tbody', {}, tables.map(([name, t]) => {
      const counts = t.counts ?? {};
      const notExact = STATUSES.filter((k) => k !== 'exact').reduce((n, k) => n + (counts[k] ?? 0), 0);
      const button = el('button', { type: 'button', 'data-table': name, 'aria-expanded': String(openPartitions?.table === name) }, notExact ? `show ${fmt(notExact)}` : 'none');
      if (!notExact) button.disabled = true;
      button.addEventListener('click', () => togglePartitions(name));
      const moved = behind.get(name);
      return el('tr', { 'data-table': name, 'data-state': moved ? 'computing' : 'current' },
        el('td', {}, el('a', { href: `#table-${name}` }, name)), el('td', { class: 'num', 'data-col': 'version' }, fmt(moved ? moved.current : t.version)),
        moved ? computingCell(moved) : STATUSES.map((k) => el('td', { class: `num status-${k}${counts[k] && k !== 'exact' ? ' flagged' : ''}`, 'data-status': k }, fmt(counts[k] ?? 0))),
        el('td', {}, t.pendingChange && t.pendingChange !== 'unchanged' ? `pending (${t.pendingChange})` : '–'),
        el('td', {}, button));
    }))));
  // The drill-down follows the table: read again when its counts or version moved, or it starts or stops computing.
  if (openPartitions) {
    const t = summary?.[openPartitions.table];
    const key = JSON.stringify([t ?? null, behind.get(openPartitions.table)?.current ?? null]);
    if (key !== openPartitions.key) {
      openPartitions.key = key;
      void loadPartitions(openPartitions.table);
    }
  }
}

function togglePartitions(table) {
  if (openPartitions?.table === table) {
    openPartitions = null;
    $('partition-detail').replaceChildren();
  } else {
    openPartitions = { table, key: JSON.stringify([state.status?.partitions?.[table] ?? null, (state.partitionsBehind ?? []).find((b) => b.table === table)?.current ?? null]) };
    void loadPartitions(table);
  }
  renderPartitions(state.status?.partitions, state.partitionsBehind ?? []);
}

async function loadPartitions(table) {
  const host = $('partition-detail');
  try {
    const response = await fetch(`/api/partitions?table=${encodeURIComponent(table)}`, { cache: 'no-store' });
    const body = await response.json();
    if (openPartitions?.table !== table) return;
    if (!response.ok) return host.replaceChildren(el('p', { class: 'muted' }, `${body.error ?? response.status}`));
    host.replaceChildren(
      el('h3', {}, `${table}: ${fmt(body.nonExact)} ${body.nonExact === 1 ? 'partition' : 'partitions'} not exact`, el('span', { class: 'muted' }, ` (version ${fmt(body.version)}, computed ${ago(body.computedAt)})`),
        (state.partitionsBehind ?? []).some((b) => b.table === table && b.current > body.version) ? el('span', { class: 'computing' }, ' — the table has moved since: computing…') : ''),
      body.partitions.length === 0 ? el('p', { class: 'muted' }, 'every partition is exact') :
      el('table', { id: 'partition-list', 'data-table': table },
        el('thead', {}, el('tr', {}, el('th', {}, 'partition'), el('th', {}, 'status'), el('th', { class: 'num' }, 'pending late rows'), el('th', { class: 'num' }, 'oldest lateness'), el('th', {}, 'last written by'))),
        el('tbody', {}, body.partitions.map((p) => el('tr', { 'data-partition': p.partition, 'data-status': p.status },
          el('td', {}, p.partition || '(whole table)'),
          el('td', {}, el('strong', {}, p.status), p.statuses.length > 1 ? ` (also ${p.statuses.filter((x) => x !== p.status).join(', ')})` : ''),
          el('td', { class: 'num' }, fmt(p.pendingLateRows)),
          el('td', { class: 'num' }, lateness(p.maxLatenessSeconds)),
          el('td', {}, p.version === null ? '–' : `version ${fmt(p.version)} (${p.mode ?? '?'})`))))),
      body.nonExact > body.partitions.length ? el('p', { class: 'muted' }, `… ${fmt(body.nonExact - body.partitions.length)} more (lakeloop status --partitions --json lists every one)`) : '');
  } catch (error) {
    host.replaceChildren(el('p', { class: 'muted' }, `could not read the partitions: ${error.message}`));
  }
}

// ---- reconcile ----------------------------------------------------------------------
let reportsSeen = null; // what the reports list was last read for
let reportShown = null;

function describeRequest(request) {
  const parts = [];
  parts.push(request.from || request.to ? `window ${request.from ?? '…'} → ${request.to ?? '…'}` : 'every partition not exact');
  if (request.models?.length) parts.push(`models ${request.models.join(', ')} and downstream`);
  if (request.dryRun) parts.push('dry run');
  return parts.join(', ');
}

/** Where a run was asked for, when not from this page's form. */
function startedBy(run) {
  return run.requestedBy === 'api' ? ' from the API' : '';
}

function renderReconcile(r) {
  $('btn-reconcile').disabled = !r.available || Boolean(r.running) || state.control?.tokenConfigured === false;
  const host = $('reconcile-status');
  if (!r.available) host.replaceChildren(el('p', { class: 'muted' }, 'reconcile from the page is off: this serve runs no models'));
  else if (r.running) {
    const run = r.running;
    host.replaceChildren(el('p', { id: 'reconcile-running' }, el('strong', { class: 'status-word running' }, 'RUNNING'), ` reconcile #${run.id} (${describeRequest(run.request)}), started ${ago(run.requestedAt)}${startedBy(run)}`),
      el('ol', { class: 'progress', id: 'reconcile-progress' }, run.progress.length ? run.progress.map((line) => el('li', {}, line)) : el('li', { class: 'muted' }, 'starting the recompute…')));
  } else if (r.last) {
    const run = r.last;
    const view = run.report ? el('button', { type: 'button', id: 'btn-last-report' }, 'view report') : '';
    if (view) view.addEventListener('click', () => showReport(run.report));
    host.replaceChildren(el('p', { id: 'reconcile-last', 'data-status': run.status },
      el('strong', { class: `status-word ${STATUS_CLASS[run.status] ?? 'failed'}` }, run.status.toUpperCase()),
      ` reconcile #${run.id} (${describeRequest(run.request)})${startedBy(run)} ended ${ago(run.finishedAt)}`, run.report ? ` — report ${run.report} ` : '', view,
      run.error ? el('span', { class: `status-word ${STATUS_CLASS[run.status] ?? 'failed'}` }, ` ${run.error}`) : '',
      run.hint ? el('span', { class: 'muted' }, ` — ${run.hint}`) : ''),
      // what it printed while running (a quick run may end between two snapshots of the page)
      run.progress.length ? el('details', {}, el('summary', {}, `progress (${run.progress.length} lines)`),
        el('ol', { class: 'progress', id: 'reconcile-progress' }, run.progress.map((line) => el('li', {}, line)))) : '');
  } else host.replaceChildren(el('p', { class: 'muted' }, 'no reconcile started from this page yet'));
  // The list is read again when a job of this serve wrote a report (and when a run ends).
  const key = `${r.reports ?? 0}|${r.last?.id ?? 0}`;
  if (key !== reportsSeen) {
    reportsSeen = key;
    void loadReports(r.last && !r.running && r.last.report && r.last.report !== reportShown ? r.last.report : undefined);
  }
}

function deltas(map) {
  const entries = Object.entries(map ?? {});
  return entries.length ? entries.map(([k, v]) => `${k} ${v > 0 ? '+' : ''}${v}`).join(', ') : '–';
}

async function loadReports(thenShow) {
  const host = $('reports');
  try {
    const response = await fetch('/api/reconcile/reports', { cache: 'no-store' });
    const body = await response.json();
    if (!response.ok) return host.replaceChildren(el('p', { class: 'muted' }, body.error ?? String(response.status)));
    if (!body.reports.length) host.replaceChildren(el('p', { class: 'muted' }, 'no reconcile or replay reports yet'));
    else host.replaceChildren(el('table', { id: 'reports-table' },
      el('thead', {}, el('tr', {}, el('th', {}, 'report'), el('th', {}, 'started'), el('th', {}, 'window'), el('th', {}, 'partitions'), el('th', {}, 'rows before → after'), el('th', {}, 'measure deltas'), el('th', { class: 'num' }, 'late rows'), el('th', {}, 'held'))),
      el('tbody', {}, body.reports.map((r) => {
        const open = el('button', { type: 'button', class: 'link', 'data-report': r.id }, r.id);
        open.addEventListener('click', () => showReport(r.id));
        return el('tr', { 'data-report': r.id },
          el('td', {}, open, r.dryRun ? el('span', { class: 'muted' }, ' (dry run)') : ''),
          el('td', {}, `${ago(r.startedAt)} (${r.seconds.toFixed(1)} s)`),
          el('td', {}, r.window ? `${r.window.from} → ${r.window.to}${r.latePartitions ? ` + ${r.latePartitions} late` : ''}` : '–'),
          el('td', { 'data-col': 'partitions' }, `${r.partitions.match} matched, ${r.partitions.corrected} corrected${r.partitions.held ? `, ${r.partitions.held} HELD` : ''}${r.partitions.failed ? `, ${r.partitions.failed} FAILED` : ''}`),
          el('td', {}, `${fmt(r.rows.before)} → ${fmt(r.rows.after)} (+${fmt(r.rows.added)} −${fmt(r.rows.removed)} ~${fmt(r.rows.changed)})`),
          el('td', {}, deltas(r.measureDeltas)),
          el('td', { class: 'num' }, fmt(r.lateRows)),
          el('td', {}, r.held.length ? r.held.map((h) => `${h.model} ${h.partition}`).join(', ') : '–'));
      }))));
    if (thenShow) await showReport(thenShow);
  } catch (error) {
    host.replaceChildren(el('p', { class: 'muted' }, `could not read the reports: ${error.message}`));
  }
}

async function showReport(id) {
  reportShown = id;
  const host = $('report-view');
  try {
    const response = await fetch(`/api/reconcile/report?id=${encodeURIComponent(id)}`, { cache: 'no-store' });
    const body = await response.json();
    if (!response.ok) return host.replaceChildren(el('p', { class: 'muted' }, body.error ?? String(response.status)));
    const { summary, report } = body;
    host.replaceChildren(el('article', { id: 'report', 'data-report': id },
      el('h3', {}, `${report.kind === 'replay' ? 'Replay' : 'Reconciliation'} ${report.id}${report.dryRun ? ' (dry run: nothing published)' : ''}`),
      el('p', {}, `Started ${new Date(report.startedAt).toLocaleString()}, ${report.seconds.toFixed(1)} s. Partitions: ${summary.partitions.match} matched, ${summary.partitions.corrected} corrected, ${summary.partitions.held} held, ${summary.partitions.failed} failed; ${fmt(summary.lateRows)} late rows applied.`),
      report.models.map((m) => {
        const changed = m.partitions.filter((p) => p.status !== 'match');
        return el('section', { class: 'report-model', 'data-model': m.model },
          el('h4', {}, `${m.model} (${m.kind}), ${m.from} → ${m.to}: `, m.published === null ? 'nothing published' : `published as version ${m.published}`),
          changed.length === 0 ? el('p', { class: 'muted' }, `all ${m.partitions.length} partitions match`) :
          el('table', {},
            el('thead', {}, el('tr', {}, el('th', {}, 'partition'), el('th', {}, 'status'), el('th', {}, 'rows before → after'), el('th', { class: 'num' }, 'added'), el('th', { class: 'num' }, 'removed'), el('th', { class: 'num' }, 'changed'), el('th', {}, 'sum deltas'), el('th', { class: 'num' }, 'late rows'), el('th', { class: 'num' }, 'max lateness'), el('th', {}, 'note'))),
            el('tbody', {}, changed.slice(0, 200).map((p) => el('tr', { 'data-partition': p.partition, 'data-status': p.status },
              el('td', {}, p.partition), el('td', {}, el('strong', {}, p.status)), el('td', {}, `${fmt(p.rowsBefore)} → ${fmt(p.rowsAfter)}`),
              el('td', { class: 'num' }, fmt(p.added)), el('td', { class: 'num' }, fmt(p.removed)), el('td', { class: 'num' }, fmt(p.changed)),
              el('td', {}, deltas(Object.fromEntries(Object.entries(p.sumDeltas).filter(([, v]) => v !== 0)))),
              el('td', { class: 'num' }, fmt(p.lateRows)), el('td', { class: 'num' }, lateness(p.maxLatenessSeconds)), el('td', {}, p.note ?? ''))))),
          changed.length > 200 ? el('p', { class: 'muted' }, `… ${changed.length - 200} more in _lakeloop/reports/${report.id}.md`) : '');
      })));
  } catch (error) {
    host.replaceChildren(el('p', { class: 'muted' }, `could not read the report: ${error.message}`));
  }
}

async function startReconcile(event) {
  event.preventDefault();
  const token = $('token').value.trim();
  sessionStorage.setItem('lakeloop-control-token', token);
  const message = $('reconcile-message');
  const request = {};
  if ($('reconcile-from').value) request.from = $('reconcile-from').value;
  if ($('reconcile-to').value) request.to = $('reconcile-to').value;
  const models = $('reconcile-models').value.split(/[\s,]+/).filter(Boolean);
  if (models.length) request.models = models;
  if ($('reconcile-dry-run').checked) request.dryRun = true;
  message.textContent = 'starting…';
  try {
    const response = await fetch('/api/control/reconcile', {
      method: 'POST',
      // Says it is the page: the run is recorded as started from the console, not the API.
      headers: { 'content-type': 'application/json', 'x-lakeloop-client': 'console', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(request),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      message.textContent = `reconcile refused (${response.status}): ${body.error ?? ''}${body.hint ? ` — ${body.hint}` : ''}`;
      return;
    }
    message.textContent = `reconcile #${body.run.id} started`;
    render({ reconcile: { ...state.reconcile, running: body.run } });
  } catch (error) {
    message.textContent = `reconcile failed: ${error.message}`;
  }
}

// ---- contracts ----------------------------------------------------------------------
const MARK = { ok: '[OK]', missing: '[MISSING]', default: '[default]' };

function renderContracts(contracts, models, live) {
  const host = $('contracts');
  const card = (name, attrs, c) => el('div', { class: 'contract', ...attrs },
    el('h3', {}, name, el('span', { class: c.missing ? 'status-word failed' : 'status-word ok' }, c.missing ? ` — ${c.missing} missing` : ' — complete')),
    el('ul', { class: 'checklist' }, c.items.map((i) => el('li', { 'data-item': i.item, 'data-state': i.state },
      el('span', { class: `mark ${i.state}` }, MARK[i.state] ?? i.state), ' ', el('strong', {}, i.label), `: ${i.detail}`))));
  // A source's completeness line gains its state now (serve's window): the objective alone says nothing about today.
  const withLive = (c) => {
    const now = live.find((l) => l.source === c.source);
    if (!now) return c;
    return { ...c, items: c.items.map((i) => (i.item === 'completeness' ? { ...i, detail: `${i.detail} — now ${now.met ? 'met' : 'BREACHED'}: ${now.message}` } : i)) };
  };
  const sources = contracts.length ? contracts.map((c) => card(c.source, { 'data-source': c.source }, withLive(c))) : [el('p', { class: 'muted' }, 'no source contracts (contracts/*.ts)')];
  const tables = models.length ? [el('h3', { class: 'checklist-heading' }, 'Models: owner, runbook, SLOs'), ...models.map((m) => card(m.model, { 'data-model': m.model }, m))] : [];
  host.replaceChildren(...sources, ...tables);
}

async function control(action) {
  const token = $('token').value.trim();
  sessionStorage.setItem('lakeloop-control-token', token);
  const message = $('control-message');
  message.dataset.sticky = '1';
  message.textContent = `${action}…`;
  try {
    const response = await fetch(`/api/control/${action}`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {} });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      message.textContent = `${action} refused (${response.status}): ${body.error ?? ''}${body.hint ? ` — ${body.hint}` : ''}`;
      return;
    }
    message.textContent = `${action}: done, mode ${body.mode}`;
    if (body.decision) addDecision(body.decision);
    render({ control: { ...state.control, mode: body.mode } });
    void refresh();
  } catch (error) {
    message.textContent = `${action} failed: ${error.message}`;
  }
}

function addDecision(decision) {
  if (state.decisions.some((d) => d.id === decision.id)) return;
  const decisions = [...state.decisions, decision].sort((a, b) => a.id - b.id).slice(-100);
  render({ decisions, lastDecision: decisions.at(-1) });
}

async function refresh() {
  try {
    const response = await fetch('/api/console', { cache: 'no-store' });
    if (response.ok) render(await response.json());
  } catch {
    $('connection').textContent = 'offline (retrying)';
  }
}

let pollTimer;
function startPolling() {
  $('connection').textContent = 'polling every 2 s';
  if (!pollTimer) pollTimer = setInterval(refresh, 2000);
  void refresh();
}

function connect() {
  if (!('EventSource' in window)) return startPolling();
  const events = new EventSource('/api/events');
  events.addEventListener('open', () => {
    $('connection').textContent = 'live (server-sent events)';
    if (pollTimer) { clearInterval(pollTimer); pollTimer = undefined; }
  });
  events.addEventListener('console', (e) => render(JSON.parse(e.data)));
  events.addEventListener('snapshot', (e) => render(JSON.parse(e.data)));
  events.addEventListener('decision', (e) => addDecision(JSON.parse(e.data)));
  // EventSource reconnects by itself; meanwhile the page polls
  events.addEventListener('error', () => startPolling());
}

$('token').value = sessionStorage.getItem('lakeloop-control-token') ?? '';
$('btn-pause').addEventListener('click', () => control('pause'));
$('btn-step').addEventListener('click', () => control('step'));
$('btn-resume').addEventListener('click', () => control('resume'));
$('reconcile-form').addEventListener('submit', startReconcile);
window.addEventListener('hashchange', () => renderTables(state.lake, state.status?.conditions ?? []));
void refresh();
connect();
