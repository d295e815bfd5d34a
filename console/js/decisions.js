// Decisions: the recent decision log, filtered, optionally tailed live; each record can be explained.
import * as api from './api.js';
import { h, clear, field, errorBox, fmtTime, query } from './dom.js';

const CHECK_KINDS = new Set(['check', 'checks']);

function pick(obj, ...names) {
  if (!obj || typeof obj !== 'object') return '';
  for (const n of names) {
    if (obj[n] !== undefined && obj[n] !== null && obj[n] !== '') return obj[n];
  }
  return '';
}

function splitSubject(value) {
  // "user:rick@the-citadel.com" or "group:admin#member"
  const v = String(value || '');
  const i = v.indexOf(':');
  if (i <= 0) return null;
  const rest = v.slice(i + 1);
  const j = rest.lastIndexOf('#');
  return j > 0 ? { type: v.slice(0, i), id: rest.slice(0, j), relation: rest.slice(j + 1) } : { type: v.slice(0, i), id: rest, relation: '' };
}

/** Evaluate links that re-run a record: [{href, label}], empty when it cannot be re-run. */
export function explainLinks(rec) {
  const rev = rec.directory_revision;
  const res = rec.resource && typeof rec.resource === 'object' && !Array.isArray(rec.resource) ? rec.resource : {};
  if (CHECK_KINDS.has(rec.kind)) {
    const [pathType, pathRel] = String(rec.path || '').split('#');
    const object_type = pick(res, 'object_type', 'objectType') || pathType;
    const relation = pick(res, 'relation') || pathRel;
    const object_id = pick(res, 'object_id', 'objectId');
    let subject_type = pick(res, 'subject_type', 'subjectType');
    let subject_id = pick(res, 'subject_id', 'subjectId');
    let subject_relation = pick(res, 'subject_relation', 'subjectRelation');
    if (!subject_id) {
      const sub = splitSubject(rec.identity && rec.identity.type === 'SUBJECT' ? rec.identity.value : rec.user);
      if (sub) ({ type: subject_type, id: subject_id, relation: subject_relation } = sub);
    }
    if (!object_type || !object_id || !relation || !subject_type || !subject_id) return [];
    return [{ label: 'Explain', href: `#/evaluate/check${query({ object_type, object_id, relation, subject_type, subject_id, subject_relation, run: 1, rev })}` }];
  }
  if (rec.kind === 'is' || rec.kind === 'decisiontree') {
    const identity = rec.user || (rec.identity && rec.identity.value) || '';
    const idType = rec.user ? 'IDENTITY_TYPE_SUB' : (rec.identity && rec.identity.type) || 'IDENTITY_TYPE_NONE';
    const resource = JSON.stringify(res);
    const link = (path, decisions, label) => ({
      label, href: `#/evaluate/is${query({ id_type: idType, identity, path, decisions: [...new Set(decisions)].join(',') || 'allowed', resource, run: 1, rev })}`,
    });
    const names = (rec.decisions || []).map((d) => d.decision).filter(Boolean);
    if (rec.kind === 'is') return [link(rec.path, names, 'Explain')];
    // A decision tree names each decision as package.decision: one link per package.
    const byPackage = new Map();
    for (const n of names) {
      const i = n.lastIndexOf('.');
      const pkg = i > 0 ? n.slice(0, i) : rec.path;
      if (!byPackage.has(pkg)) byPackage.set(pkg, []);
      byPackage.get(pkg).push(i > 0 ? n.slice(i + 1) : n);
    }
    return [...byPackage].map(([pkg, ds]) => link(pkg, ds, `Explain ${pkg}`));
  }
  return [];
}

function outcome(rec) {
  const ds = rec.decisions || [];
  if (!ds.length) return h('span', { class: 'muted' }, '—');
  return ds.map((d) => h('span', { class: ['badge', d.is ? 'yes' : 'no'] }, `${d.decision}: ${d.is ? 'true' : 'false'}`));
}

function who(rec) {
  if (rec.user) return rec.user;
  if (rec.identity && rec.identity.value) return `${rec.identity.value} (${String(rec.identity.type || '').replace('IDENTITY_TYPE_', '')}, unresolved)`;
  return '';
}

function row(rec) {
  const links = explainLinks(rec);
  return h('tr', { dataset: { path: rec.path || '', user: rec.user || '' } },
    h('td', h('time', { datetime: rec.time || '' }, fmtTime(rec.time))),
    h('td', rec.kind || ''),
    h('td', who(rec)),
    h('td', h('code', rec.path || '')),
    h('td', outcome(rec)),
    h('td', rec.directory_revision ?? ''),
    h('td', rec.latency_us !== undefined ? `${(rec.latency_us / 1000).toFixed(1)} ms` : ''),
    h('td', links.length
      ? h('ul', { class: 'plain' }, links.map((l) => h('li', h('a', { href: l.href, class: 'explain-link', title: `Explain the ${rec.kind} decision on ${rec.path} for ${who(rec) || 'anonymous'}` }, l.label))))
      : h('span', { class: 'muted' }, '—')));
}

function toIso(local) {
  if (!local) return '';
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

export async function render(root, ctx) {
  root.append(h('h1', 'Decisions'));
  const f = {
    user: field({ label: 'User or identity', name: 'user' }),
    path: field({ label: 'Policy path or type#relation', name: 'path' }),
    outcome: field({ label: 'Outcome', name: 'outcome', options: [['', 'Any'], ['true', 'Allowed'], ['false', 'Denied']] }),
    since: field({ label: 'Since', name: 'since', type: 'datetime-local' }),
    until: field({ label: 'Until', name: 'until', type: 'datetime-local' }),
    limit: field({ label: 'Most records', name: 'limit', type: 'number', value: '100' }),
  };
  f.limit.input.min = '1';
  f.limit.input.max = '10000';
  const live = field({ label: 'Live: add new decisions as they are made', name: 'live', type: 'checkbox' });
  const err = errorBox();
  const status = h('p', { class: 'status', 'aria-live': 'polite' });
  const tbody = h('tbody');
  const form = h('form', { class: 'grid', 'aria-label': 'Filter decisions' }, Object.values(f), h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Show decisions')));
  const table = h('table', { class: 'list decisions-table' }, h('caption', { class: 'sr-only' }, 'Recent decisions, newest first'),
    h('thead', h('tr', ['Time', 'Kind', 'User', 'Path', 'Outcome', 'Directory revision', 'Latency'].map((c) => h('th', { scope: 'col' }, c)), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Explain')))),
    tbody);
  root.append(form, live, err, status, h('div', { class: 'table-wrap' }, table));

  function filters() {
    return {
      user: f.user.input.value.trim(),
      path: f.path.input.value.trim(),
      outcome: f.outcome.input.value,
      since: toIso(f.since.input.value),
      until: toIso(f.until.input.value),
      limit: f.limit.input.value || '100',
    };
  }

  function matches(rec, q) {
    if (q.user && rec.user !== q.user && !(rec.identity && rec.identity.value === q.user)) return false;
    if (q.path && rec.path !== q.path) return false;
    if (q.outcome && !(rec.decisions || []).some((d) => String(Boolean(d.is)) === q.outcome)) return false;
    return true;
  }

  let count = 0;
  async function load() {
    err.show(null);
    status.textContent = 'Loading…';
    try {
      const res = await api.api('GET', '/api/v3/lictor/decisions', { query: filters(), signal: ctx.signal });
      const results = res.results || [];
      clear(tbody);
      for (const rec of results) tbody.append(row(rec));
      count = results.length;
      if (!results.length) tbody.append(h('tr', { class: 'empty' }, h('td', { colspan: 8, class: 'muted' }, 'No decision matches.')));
      status.textContent = `${count} decision${count === 1 ? '' : 's'}, newest first.`;
    } catch (e) {
      if (e.name === 'AbortError') return;
      status.textContent = '';
      err.show(e);
    }
  }

  let tail = null;
  async function startLive() {
    tail = new AbortController();
    const mine = tail;
    ctx.signal.addEventListener('abort', () => mine.abort());
    const q = filters();
    status.textContent = 'Live: waiting for decisions…';
    try {
      await api.stream('/api/v3/lictor/decisions/stream', {}, (data) => {
        let rec;
        try {
          rec = JSON.parse(data);
        } catch {
          return;
        }
        if (!matches(rec, q)) return;
        const empty = tbody.querySelector('tr.empty');
        if (empty) empty.remove();
        tbody.prepend(row(rec));
        count += 1;
        const max = Number(q.limit) || 100;
        while (tbody.rows.length > max) tbody.lastElementChild.remove();
        status.textContent = `Live: ${count} decision${count === 1 ? '' : 's'} so far.`;
      }, mine.signal);
      if (!mine.signal.aborted) {
        status.textContent = 'Live stream ended.';
        live.input.checked = false;
      }
    } catch (e) {
      if (e.name === 'AbortError' || mine.signal.aborted) return;
      err.show(e);
      live.input.checked = false;
    }
  }

  live.input.addEventListener('change', () => {
    if (live.input.checked) startLive();
    else if (tail) {
      tail.abort();
      tail = null;
      status.textContent = 'Live stopped.';
    }
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    load();
  });
  await load();
}
