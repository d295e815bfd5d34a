// Evaluate: directory checks with their tree, Is with its explanation, lookups, Cerbos checks.
import * as api from './api.js';
import { h, clear, field, errorBox, json, objectHref, query, nextId } from './dom.js';
import { loadModel } from './manifest.js';
import { renderExplain } from './trace.js';

const TABS = [
  ['check', 'Check'],
  ['is', 'Is'],
  ['lookup', 'Lookups'],
  ['cerbos', 'Cerbos'],
];

const ID_TYPES = [
  ['IDENTITY_TYPE_SUB', 'SUB'],
  ['IDENTITY_TYPE_JWT', 'JWT'],
  ['IDENTITY_TYPE_NONE', 'NONE'],
  ['IDENTITY_TYPE_MANUAL', 'MANUAL'],
];

function setHash(tab, params) {
  const q = query(params || {});
  history.replaceState(null, '', `#/evaluate/${tab}${q}`);
}

export async function render(root, ctx, tabName) {
  const params = ctx.params;
  root.append(h('h1', 'Evaluate'));
  let model = { types: {} };
  try {
    model = await loadModel(api);
  } catch (e) {
    ctx.showError(e);
  }
  const cerbosOn = await api.api('GET', '/api/server_info', { signal: ctx.signal }).then(() => true, () => false);
  const tabs = TABS.filter(([t]) => t !== 'cerbos' || cerbosOn);
  const active = tabs.some(([t]) => t === tabName) ? tabName : 'check';

  const list = h('div', { role: 'tablist', 'aria-label': 'Kind of evaluation', class: 'tabs' });
  const panels = {};
  const buttons = {};
  root.append(list);
  const datalists = typeLists(model);
  root.append(datalists);
  for (const [t, label] of tabs) {
    const btn = h('button', { type: 'button', role: 'tab', id: `tab-${t}`, 'aria-controls': `panel-${t}` }, label);
    const panel = h('section', { role: 'tabpanel', id: `panel-${t}`, 'aria-labelledby': `tab-${t}`, class: 'tabpanel' });
    buttons[t] = btn;
    panels[t] = panel;
    list.append(btn);
    root.append(panel);
    btn.addEventListener('click', () => select(t, true));
  }
  list.addEventListener('keydown', (e) => {
    const names = tabs.map(([t]) => t);
    const i = names.indexOf(document.activeElement && document.activeElement.id.replace('tab-', ''));
    if (i < 0) return;
    let j = -1;
    if (e.key === 'ArrowRight') j = (i + 1) % names.length;
    else if (e.key === 'ArrowLeft') j = (i - 1 + names.length) % names.length;
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = names.length - 1;
    if (j < 0) return;
    e.preventDefault();
    select(names[j], true);
    buttons[names[j]].focus();
  });

  function select(t, user) {
    for (const [n] of tabs) {
      const on = n === t;
      buttons[n].setAttribute('aria-selected', on ? 'true' : 'false');
      buttons[n].tabIndex = on ? 0 : -1;
      panels[n].hidden = !on;
    }
    if (user) setHash(t, {});
  }

  checkTab(panels.check, model, active === 'check' ? params : new URLSearchParams());
  isTab(panels.is, active === 'is' ? params : new URLSearchParams());
  lookupTab(panels.lookup, model);
  if (panels.cerbos) cerbosTab(panels.cerbos);
  select(active, false);
}

function typeLists(model) {
  const wrap = h('div', { hidden: true });
  wrap.append(h('datalist', { id: 'dl-types' }, Object.keys(model.types).map((t) => h('option', { value: t }))));
  const names = new Set();
  for (const t of Object.values(model.types)) {
    for (const r of Object.keys(t.relations)) names.add(r);
    for (const p of Object.keys(t.permissions)) names.add(p);
  }
  wrap.append(h('datalist', { id: 'dl-relations' }, [...names].sort().map((n) => h('option', { value: n }))));
  return wrap;
}

function revisionNote(revision, recordRevision) {
  if (recordRevision === null || recordRevision === undefined || recordRevision === '') return null;
  const rec = Number(recordRevision);
  const same = Number(revision) === rec;
  return h('p', { class: ['note', 'revision-note', same ? '' : 'warn'] },
    `Explained at the current directory revision ${revision ?? '?'}; the logged decision was made at revision ${rec}.`,
    same ? ' The directory has not changed since.' : ' The directory has changed since, so the answer may differ from the logged one.');
}

// ---- Check ------------------------------------------------------------------------------------

function checkTab(panel, model, p) {
  panel.append(h('h2', 'Directory check'), h('p', { class: 'hint' }, 'Does the subject hold the relation or permission on the object? The answer comes with the steps taken.'));
  const f = {
    object_type: field({ label: 'Object type', name: 'object_type', list: 'dl-types', value: p.get('object_type') || '', required: true }),
    object_id: field({ label: 'Object id', name: 'object_id', value: p.get('object_id') || '', required: true }),
    relation: field({ label: 'Relation or permission', name: 'relation', list: 'dl-relations', value: p.get('relation') || '', required: true }),
    subject_type: field({ label: 'Subject type', name: 'subject_type', list: 'dl-types', value: p.get('subject_type') || 'user', required: true }),
    subject_id: field({ label: 'Subject id', name: 'subject_id', value: p.get('subject_id') || '', required: true }),
    subject_relation: field({ label: 'Subject relation (optional)', name: 'subject_relation', value: p.get('subject_relation') || '' }),
  };
  const err = errorBox();
  const out = h('div', { class: 'result', 'aria-live': 'polite' });
  const form = h('form', { class: 'grid', 'aria-label': 'Directory check' }, Object.values(f), h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Check')));
  panel.append(form, err, out);
  const recordRev = p.get('rev');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.show(null);
    const body = {};
    for (const [k, fld] of Object.entries(f)) body[k] = fld.input.value.trim();
    if (!body.subject_relation) delete body.subject_relation;
    setHash('check', body);
    clear(out).append(h('p', { class: 'muted' }, 'Checking…'));
    try {
      const res = await api.api('POST', '/api/v3/lictor/explain', { body: { ...body, trace: true } });
      clear(out).append(
        h('h3', `${body.object_type}:${body.object_id}#${body.relation} for ${body.subject_type}:${body.subject_id}${body.subject_relation ? `#${body.subject_relation}` : ''}`),
        revisionNote(res.revision, recordRev),
        renderExplain(res, 'Check evaluation tree'));
    } catch (x) {
      clear(out);
      err.show(x);
    }
  });
  if (p.get('run') === '1') form.requestSubmit();
}

// ---- Is ---------------------------------------------------------------------------------------

function isTab(panel, p) {
  panel.append(h('h2', 'Is'), h('p', { class: 'hint' }, 'Evaluate policy decisions for an identity, with the rules, identity resolution and directory calls behind them.'));
  const typeF = field({ label: 'Identity type', name: 'id_type', options: ID_TYPES, value: p.get('id_type') || 'IDENTITY_TYPE_SUB' });
  const idF = field({ label: 'Identity', name: 'identity', value: p.get('identity') || '' });
  const pathF = field({ label: 'Policy path', name: 'path', value: p.get('path') || 'todoApp.GET.todos', required: true });
  const decF = field({ label: 'Decisions (comma separated)', name: 'decisions', value: p.get('decisions') || 'allowed' });
  const resF = field({ label: 'Resource context (JSON object)', name: 'resource', type: 'textarea', rows: 3, value: p.get('resource') || '{}' });
  const err = errorBox();
  const out = h('div', { class: 'result', 'aria-live': 'polite' });
  const treeBtn = h('button', { type: 'button', class: 'secondary' }, 'Decision tree');
  const form = h('form', { class: 'grid', 'aria-label': 'Is' }, typeF, idF, pathF, decF, resF,
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Run Is'), treeBtn));
  panel.append(form, err, out);
  const recordRev = p.get('rev');

  function request() {
    let resource;
    try {
      resource = JSON.parse(resF.input.value.trim() || '{}');
    } catch (x) {
      throw new Error(`Resource context is not valid JSON: ${x.message}`);
    }
    if (!resource || typeof resource !== 'object' || Array.isArray(resource)) throw new Error('Resource context must be a JSON object.');
    const decisions = decF.input.value.split(',').map((d) => d.trim()).filter(Boolean);
    return {
      identity_context: { type: typeF.input.value, identity: idF.input.value.trim() },
      policy_context: { path: pathF.input.value.trim(), decisions: decisions.length ? decisions : ['allowed'] },
      resource_context: resource,
    };
  }

  function remember(req) {
    setHash('is', { id_type: req.identity_context.type, identity: req.identity_context.identity, path: req.policy_context.path, decisions: req.policy_context.decisions.join(','), resource: JSON.stringify(req.resource_context) });
  }

  // The form's request, remembered in the URL; null (with the error shown) when a field is invalid.
  function submitted() {
    err.show(null);
    let req;
    try {
      req = request();
    } catch (x) {
      err.show(x);
      return null;
    }
    remember(req);
    return req;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const req = submitted();
    if (!req) return;
    clear(out).append(h('p', { class: 'muted' }, 'Evaluating…'));
    try {
      const res = await api.api('POST', '/api/v3/lictor/explain/is', { body: req });
      clear(out).append(renderIs(res, req, recordRev));
    } catch (x) {
      clear(out);
      err.show(x);
    }
  });
  treeBtn.addEventListener('click', async () => {
    const req = submitted();
    if (!req) return;
    try {
      const body = { ...req, policy_context: { path: req.policy_context.path, decisions: req.policy_context.decisions }, options: { path_separator: 'PATH_SEPARATOR_DOT' } };
      const res = await api.api('POST', '/api/v2/authz/decisiontree', { body });
      clear(out).append(renderTree(res));
    } catch (x) {
      clear(out);
      err.show(x);
    }
  });
  if (p.get('run') === '1') form.requestSubmit();
}

function yesNo(v) {
  if (v === true) return h('span', { class: 'badge yes' }, 'true');
  if (v === false) return h('span', { class: 'badge no' }, 'false');
  if (v === null || v === undefined) return h('span', { class: 'badge none' }, 'undefined');
  return h('code', JSON.stringify(v));
}

function renderIs(res, req, recordRev) {
  const box = h('div', { class: 'is-result' });
  box.append(h('h3', `Decisions for ${req.policy_context.path}`));
  box.append(h('ul', { class: 'decisions' }, (res.decisions || []).map((d) => h('li', h('code', d.decision), ': ', yesNo(d.is)))));
  box.append(h('p', { class: 'muted' }, `Policy revision ${res.policy_revision || '?'}, directory revision ${res.directory_revision ?? '?'}.`));
  const note = revisionNote(res.directory_revision, recordRev);
  if (note) box.append(note);

  const id = res.identity || {};
  box.append(h('h3', 'Identity'));
  const user = id.user;
  box.append(h('dl', { class: 'props' },
    h('dt', 'Type'), h('dd', id.type || req.identity_context.type),
    h('dt', 'Identity'), h('dd', id.identity || req.identity_context.identity || h('span', { class: 'muted' }, '(none)')),
    h('dt', 'Resolved user'), h('dd', user && user.id
      ? [h('a', { href: objectHref(user.type || 'user', user.id) }, `${user.type || 'user'}:${user.id}`), user.display_name ? ` (${user.display_name})` : '']
      : h('span', { class: 'muted' }, 'no user')),
    id.resolved_by ? [h('dt', 'Resolved by'), h('dd', id.resolved_by)] : null));

  box.append(h('h3', 'Rules'));
  const rules = res.rules || [];
  box.append(rules.length
    ? h('table', { class: 'list rules' }, h('caption', { class: 'sr-only' }, 'Rules and their values'),
      h('thead', h('tr', h('th', { scope: 'col' }, 'Package'), h('th', { scope: 'col' }, 'Rule'), h('th', { scope: 'col' }, 'Value'))),
      h('tbody', rules.map((r) => h('tr', h('td', h('code', r.package)), h('td', h('code', r.rule)),
        h('td', yesNo(r.value), r.error ? h('span', { class: 'error-text' }, ` error: ${typeof r.error === 'string' ? r.error : JSON.stringify(r.error)}`) : null)))))
    : h('p', { class: 'muted' }, 'No rules reported.'));

  box.append(h('h3', 'Directory calls'));
  const calls = res.calls || [];
  if (!calls.length) box.append(h('p', { class: 'muted calls-none' }, 'The policy made no ds calls.'));
  const ol = h('ol', { class: 'calls' });
  calls.forEach((c, i) => {
    const li = h('li', { class: 'call card' },
      h('h4', h('code', c.builtin), ' → ', yesNo(c.result)),
      h('details', h('summary', `Argument of call ${i + 1}`), h('pre', { class: 'json' }, json(c.argument))),
      c.error ? h('p', { class: 'error-text' }, `Error: ${typeof c.error === 'string' ? c.error : JSON.stringify(c.error)}`) : null,
      c.explanation ? renderExplain(c.explanation, `Evaluation tree of call ${i + 1}`) : null);
    ol.append(li);
  });
  if (calls.length) box.append(ol);
  return box;
}

function renderTree(res) {
  const rows = [];
  for (const [pkg, decisions] of Object.entries(res.path || {})) {
    for (const [d, v] of Object.entries(decisions || {})) rows.push(h('tr', h('td', h('code', pkg)), h('td', h('code', d)), h('td', yesNo(v))));
  }
  return h('div', h('h3', `Decision tree under ${res.path_root || ''}`),
    rows.length
      ? h('table', { class: 'list' }, h('caption', { class: 'sr-only' }, 'Decision tree'),
        h('thead', h('tr', h('th', { scope: 'col' }, 'Package'), h('th', { scope: 'col' }, 'Decision'), h('th', { scope: 'col' }, 'Outcome'))), h('tbody', rows))
      : h('p', { class: 'muted' }, 'No package under this path.'));
}

// ---- Lookups ----------------------------------------------------------------------------------

function lookupTab(panel, model) {
  panel.append(h('h2', 'Lookups'));
  const types = Object.keys(model.types);
  const typeOpts = (v) => (types.length ? { options: types, value: v } : { list: 'dl-types', value: v });

  // objects
  const o = {
    subject_type: field({ label: 'Subject type', name: 'subject_type', ...typeOpts('user') }),
    subject_id: field({ label: 'Subject id', name: 'subject_id', required: true }),
    permission: field({ label: 'Relation or permission', name: 'permission', list: 'dl-relations', required: true }),
    object_type: field({ label: 'Object type', name: 'object_type', ...typeOpts(types.includes('group') ? 'group' : types[0] || '') }),
  };
  const oErr = errorBox();
  const oOut = h('div', { 'aria-live': 'polite' });
  const oForm = h('form', { class: 'grid card', 'aria-labelledby': 'lo-h' }, h('h3', { id: 'lo-h' }, 'Objects a subject can reach'), Object.values(o),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Look up objects')));
  panel.append(oForm, oErr, oOut);
  wireLookup(oForm, o, oErr, oOut, '/api/v3/lictor/lookup/objects', (res, body) => res.ids.map((id) => ({ type: body.object_type, id })));

  // subjects
  const s = {
    object_type: field({ label: 'Object type', name: 'object_type', ...typeOpts(types.includes('group') ? 'group' : types[0] || '') }),
    object_id: field({ label: 'Object id', name: 'object_id', required: true }),
    permission: field({ label: 'Relation or permission', name: 'permission', list: 'dl-relations', required: true }),
    subject_type: field({ label: 'Subject type', name: 'subject_type', ...typeOpts('user') }),
  };
  const sErr = errorBox();
  const sOut = h('div', { 'aria-live': 'polite' });
  const sForm = h('form', { class: 'grid card', 'aria-labelledby': 'ls-h' }, h('h3', { id: 'ls-h' }, 'Subjects that reach an object'), Object.values(s),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Look up subjects')));
  panel.append(sForm, sErr, sOut);
  wireLookup(sForm, s, sErr, sOut, '/api/v3/lictor/lookup/subjects', (res, body) => res.ids.map((id) => ({ type: body.subject_type, id })));
}

function wireLookup(form, fields, err, out, path, toItems) {
  let after = null;
  let items = [];
  async function run(more) {
    err.show(null);
    const body = { page_size: 50 };
    for (const [k, f] of Object.entries(fields)) body[k] = f.input.value.trim();
    if (more) body.after = after;
    else items = [];
    try {
      const res = await api.api('POST', path, { body });
      res.ids = res.ids || [];
      items = items.concat(toItems(res, body));
      after = res.next || null;
      clear(out);
      out.append(h('p', `${items.length} found at directory revision ${res.revision ?? '?'}${after ? ', more follow' : ''}.`));
      out.append(h('ul', { class: 'ids' }, items.map((it) => h('li', it.id === '*' ? h('code', `${it.type}:* (every ${it.type})`) : h('a', { href: objectHref(it.type, it.id) }, `${it.type}:${it.id}`)))));
      if (res.excluded && res.excluded.length) out.append(h('p', 'Except: ', res.excluded.join(', ')));
      if (after) {
        const btn = h('button', { type: 'button', class: 'secondary' }, 'More');
        btn.addEventListener('click', () => run(true));
        out.append(btn);
      }
    } catch (x) {
      err.show(x);
    }
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run(false);
  });
}

// ---- Cerbos -----------------------------------------------------------------------------------

function cerbosTab(panel) {
  panel.append(h('h2', 'Cerbos CheckResources'));
  const f = {
    principal: field({ label: 'Principal id', name: 'principal', value: 'rick@the-citadel.com', required: true }),
    roles: field({ label: 'Principal roles (comma separated)', name: 'roles', value: 'user' }),
    pattr: field({ label: 'Principal attributes (JSON)', name: 'pattr', type: 'textarea', rows: 2, value: '{}' }),
    kind: field({ label: 'Resource kind', name: 'kind', value: 'record', required: true }),
    rid: field({ label: 'Resource id', name: 'rid', value: '1', required: true }),
    rattr: field({ label: 'Resource attributes (JSON)', name: 'rattr', type: 'textarea', rows: 2, value: '{"owner": "rick@the-citadel.com"}' }),
    actions: field({ label: 'Actions (comma separated)', name: 'actions', value: 'view, edit', required: true }),
  };
  const err = errorBox();
  const out = h('div', { 'aria-live': 'polite' });
  const explainBtn = h('button', { type: 'button', class: 'secondary' }, 'Explain');
  const form = h('form', { class: 'grid', 'aria-label': 'Cerbos check' }, Object.values(f), h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Check resources'), explainBtn));
  panel.append(form, err, out);
  const list = (v) => v.split(',').map((x) => x.trim()).filter(Boolean);
  function body() {
    const parse = (fld, name) => {
      try {
        return JSON.parse(fld.input.value.trim() || '{}');
      } catch (x) {
        throw new Error(`${name} are not valid JSON: ${x.message}`);
      }
    };
    return {
      requestId: nextId('console'),
      includeMeta: true,
      principal: { id: f.principal.input.value.trim(), roles: list(f.roles.input.value), attr: parse(f.pattr, 'Principal attributes') },
      resources: [{ actions: list(f.actions.input.value), resource: { kind: f.kind.input.value.trim(), id: f.rid.input.value.trim(), attr: parse(f.rattr, 'Resource attributes') } }],
    };
  }
  async function run(path) {
    err.show(null);
    try {
      const res = await api.api('POST', path, { body: body() });
      clear(out);
      const results = res.results || [];
      for (const r of results) {
        out.append(h('h3', `${(r.resource && r.resource.kind) || ''}:${(r.resource && r.resource.id) || ''}`),
          h('ul', { class: 'cerbos-actions' }, Object.entries(r.actions || {}).map(([a, v]) => cerbosAction(a, v))));
      }
      out.append(h('details', { open: !results.length }, h('summary', 'Full answer'), h('pre', { class: 'json' }, json(res))));
    } catch (x) {
      clear(out);
      err.show(x);
    }
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    run('/api/check/resources');
  });
  explainBtn.addEventListener('click', () => run('/api/v3/lictor/cerbos/explain'));
}

function cerbosAction(action, v) {
  // CheckResources answers an effect; the explain endpoint an object with the steps taken.
  const effect = typeof v === 'string' ? v : (v && v.effect) || '';
  const li = h('li', h('code', action), ': ', h('span', { class: ['badge', effect === 'EFFECT_ALLOW' ? 'yes' : 'no'] }, effect),
    v && v.matchedPolicy ? h('span', { class: 'muted' }, ` by ${v.matchedPolicy}`) : null);
  const steps = (v && typeof v === 'object' && v.steps) || [];
  if (steps.length) {
    li.append(h('ol', { class: 'steps' }, steps.map((st) => {
      const what = st.step === 'rule'
        ? [h('strong', `rule ${st.rule || ''}`), ` of ${st.policy || ''}: `, st.applied ? 'applied' : 'not applied', st.effect ? ` (${st.effect})` : '']
        : [h('strong', st.step || 'step'), st.role ? ` role ${st.role}` : '', st.scope ? ` scope ${st.scope}` : '', st.policy ? ` ${st.policy}` : ''];
      const item = h('li', what);
      const c = st.condition;
      if (c) {
        item.append(h('span', { class: c.holds ? 'ok-text' : 'why' }, c.holds ? ' — condition holds' : ' — condition does not hold'));
        const leaves = c.leaves || [];
        if (leaves.length) {
          item.append(h('ul', leaves.map((l) => h('li', h('code', l.expr || ''), ' → ', yesNo(l.result),
            (l.values || []).length ? h('ul', l.values.map((x) => h('li', h('code', x.path || ''), x.error ? h('span', { class: 'why' }, ` ${x.error}`) : [' = ', h('code', JSON.stringify(x.value))]))) : null))));
        }
      }
      return item;
    })));
  }
  return li;
}
