// Directory pages: object types, objects of a type, an object with its relations, create and edit.
import * as api from './api.js';
import { h, clear, field, errorBox, json, fmtTime, objectHref, graphHref, seg, query, nextId } from './dom.js';
import { loadModel, subjectsOf } from './manifest.js';

const PAGE_SIZES = [10, 20, 50, 100];

function isStale(err) {
  return err && ([6, 9, 10].includes(err.code) || [409, 412].includes(err.status) || /etag/i.test(err.message || ''));
}

function typesNav(model, active) {
  const names = Object.keys(model.types);
  return h('nav', { class: 'types', 'aria-labelledby': 'types-h' },
    h('h2', { id: 'types-h' }, 'Object types'),
    names.length
      ? h('ul', names.map((t) => h('li', h('a', { href: `#/directory/${seg(t)}`, 'aria-current': t === active ? 'page' : null },
        t, model.types[t].displayName && model.types[t].displayName !== t ? h('span', { class: 'muted' }, ` ${model.types[t].displayName}`) : null))))
      : h('p', 'The manifest declares no types. ', h('a', { href: '#/model' }, 'Edit the model'), '.'),
    h('p', h('a', { class: 'button', href: active ? `#/new/${seg(active)}` : '#/new' }, 'New object')));
}

export async function renderDirectory(root, ctx, type) {
  root.append(h('h1', 'Directory'));
  const model = await loadModel(api);
  const layout = h('div', { class: 'split' });
  root.append(layout);
  layout.append(typesNav(model, type));
  const panel = h('section', { class: 'panel', 'aria-labelledby': 'objects-h' });
  layout.append(panel);
  if (!type) {
    panel.append(h('h2', { id: 'objects-h' }, 'Objects'), h('p', 'Choose an object type to list its objects.'));
    return;
  }
  objectList(panel, ctx, type, model);
}

function objectList(panel, ctx, type, model) {
  const known = Boolean(model.types[type]);
  panel.append(h('h2', { id: 'objects-h' }, `Objects of type ${type}`));
  if (!known) panel.append(h('p', { class: 'note' }, `The manifest does not declare the type ${type}.`));
  const search = field({ label: 'Search by id or display name', name: 'q', type: 'search' });
  const size = field({ label: 'Per page', name: 'size', options: PAGE_SIZES, value: 20 });
  const form = h('form', { role: 'search', class: 'inline', 'aria-label': `Search objects of type ${type}` }, search, size, h('button', { type: 'submit' }, 'Search'));
  const err = errorBox();
  const status = h('p', { class: 'status', 'aria-live': 'polite' });
  const tbody = h('tbody');
  const table = h('table', { class: 'list' }, h('caption', { class: 'sr-only' }, `Objects of type ${type}`),
    h('thead', h('tr', h('th', { scope: 'col' }, 'Id'), h('th', { scope: 'col' }, 'Display name'), h('th', { scope: 'col' }, 'Updated'))), tbody);
  const prev = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Previous page');
  const next = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Next page');
  panel.append(form, err, table, h('div', { class: 'pager' }, prev, next, status));

  // starts[i] is the token the i-th page began at; nextToken is where the following one begins.
  let starts = [''];
  let nextToken = '';
  let seq = 0;

  async function load(index) {
    const mine = ++seq;
    err.show(null);
    status.textContent = 'Loading…';
    const q = search.input.value.trim().toLowerCase();
    const want = Number(size.input.value) || 20;
    let token = starts[index];
    const rows = [];
    try {
      // The server searches ids and display names (without regard to case) and pages the matches.
      const page = await api.api('GET', '/api/v3/lictor/objects', { query: { object_type: type, q, 'page.size': want, 'page.token': token }, signal: ctx.signal });
      rows.push(...(page.results || []));
      token = (page.page && page.page.next_token) || '';
    } catch (e) {
      if (mine === seq) {
        err.show(e);
        status.textContent = '';
      }
      return;
    }
    if (mine !== seq) return;
    nextToken = token;
    clear(tbody);
    for (const o of rows) {
      tbody.append(h('tr', h('td', h('a', { href: objectHref(o.type, o.id) }, o.id)), h('td', o.display_name || ''), h('td', fmtTime(o.updated_at))));
    }
    if (!rows.length) tbody.append(h('tr', h('td', { colspan: 3, class: 'muted' }, q ? 'No object matches.' : 'No objects of this type.')));
    prev.disabled = index === 0;
    next.disabled = !nextToken;
    prev.onclick = () => load(index - 1);
    next.onclick = () => {
      starts = starts.slice(0, index + 1);
      starts.push(nextToken);
      load(index + 1);
    };
    status.textContent = `Page ${index + 1}: ${rows.length} object${rows.length === 1 ? '' : 's'}${q ? ` matching “${search.input.value.trim()}”` : ''}${nextToken ? ', more follow' : ''}.`;
  }

  let timer;
  const restart = () => {
    starts = [''];
    load(0);
  };
  search.input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(restart, 300);
  });
  size.input.addEventListener('change', restart);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    clearTimeout(timer);
    restart();
  });
  load(0);
}

// ---- create -----------------------------------------------------------------------------------

export async function renderNew(root, ctx, type) {
  root.append(h('h1', 'New object'));
  const model = await loadModel(api);
  const types = Object.keys(model.types);
  const typeField = types.length
    ? field({ label: 'Type', name: 'type', options: types, value: type || types[0], required: true })
    : field({ label: 'Type', name: 'type', value: type || '', required: true });
  const idField = field({ label: 'Id', name: 'id', required: true });
  const nameField = field({ label: 'Display name', name: 'display_name' });
  const propsField = field({ label: 'Properties (JSON object)', name: 'properties', type: 'textarea', value: '{}', rows: 6 });
  const err = errorBox();
  const form = h('form', { class: 'stack', 'aria-label': 'New object' }, typeField, idField, nameField, propsField, err,
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Create object'), h('a', { class: 'button secondary', href: type ? `#/directory/${seg(type)}` : '#/directory' }, 'Cancel')));
  root.append(form);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.show(null);
    const t = typeField.input.value.trim();
    const id = idField.input.value.trim();
    if (!t || !id) return err.show('Type and id are required.');
    let properties;
    try {
      properties = parseProps(propsField.input.value);
    } catch (x) {
      return err.show(x.message);
    }
    try {
      // Create only: the server refuses (409) rather than replace an object that exists.
      await api.api('POST', '/api/v3/directory/object', { body: { object: { type: t, id, display_name: nameField.input.value, properties } }, headers: { 'if-none-match': '*' } });
      location.hash = objectHref(t, id);
    } catch (x) {
      if (x.code === 6 || x.status === 409) return err.show(`The object ${t}:${id} already exists.`);
      err.show(x);
    }
  });
}

function parseProps(text) {
  const t = text.trim();
  if (!t) return {};
  let v;
  try {
    v = JSON.parse(t);
  } catch (e) {
    throw new Error(`Properties are not valid JSON: ${e.message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('Properties must be a JSON object.');
  return v;
}

// ---- one object -------------------------------------------------------------------------------

function subjectLabel(r) {
  return `${r.subject_type}:${r.subject_id}${r.subject_relation ? `#${r.subject_relation}` : ''}`;
}

function relationText(r) {
  return `${r.object_type}:${r.object_id}#${r.relation}@${subjectLabel(r)}`;
}

function relParams(r) {
  return {
    object_type: r.object_type, object_id: r.object_id, relation: r.relation,
    subject_type: r.subject_type, subject_id: r.subject_id, subject_relation: r.subject_relation || '',
  };
}

/** A button that asks once more before acting. */
function confirmButton(label, confirmLabel, aria, action) {
  const btn = h('button', { type: 'button', class: 'secondary small', 'aria-label': aria }, label);
  let armed = false;
  const reset = () => {
    armed = false;
    btn.textContent = label;
    btn.classList.remove('danger');
    btn.setAttribute('aria-label', aria);
  };
  btn.addEventListener('click', async () => {
    if (!armed) {
      armed = true;
      btn.textContent = confirmLabel;
      btn.classList.add('danger');
      btn.setAttribute('aria-label', `${confirmLabel}: ${aria}`);
      return;
    }
    btn.disabled = true;
    try {
      await action();
    } finally {
      btn.disabled = false;
      reset();
    }
  });
  btn.addEventListener('blur', reset);
  return btn;
}

export async function renderObject(root, ctx, type, id) {
  if (!type || !id) {
    location.hash = '#/directory';
    return;
  }
  const path = `/api/v3/directory/object/${encodeURIComponent(type)}/${encodeURIComponent(id)}`;
  let obj;
  try {
    obj = (await api.api('GET', path, { signal: ctx.signal })).result;
  } catch (e) {
    root.append(h('h1', `${type}:${id}`));
    if (e.status === 404 || e.code === 5) {
      root.append(h('p', 'This object is not in the directory. ', h('a', { href: `#/new/${seg(type)}` }, `Create a ${type}`), '.'));
    }
    throw e;
  }
  const model = await loadModel(api);

  const title = h('h1', obj.display_name || obj.id);
  const sub = h('p', { class: 'sub' }, h('code', `${obj.type}:${obj.id}`));
  const pageErr = errorBox();

  const details = h('dl', { class: 'props' },
    h('dt', 'Type'), h('dd', h('a', { href: `#/directory/${seg(obj.type)}` }, obj.type)),
    h('dt', 'Id'), h('dd', obj.id),
    h('dt', 'Display name'), h('dd', obj.display_name || h('span', { class: 'muted' }, '(none)')),
    h('dt', 'ETag'), h('dd', h('code', { class: 'etag' }, obj.etag || '')),
    h('dt', 'Created'), h('dd', fmtTime(obj.created_at)),
    h('dt', 'Updated'), h('dd', fmtTime(obj.updated_at)));
  const propsView = h('pre', { class: 'json', tabindex: '0', 'aria-label': 'Properties' }, json(obj.properties || {}));

  const editBtn = h('button', { type: 'button' }, 'Edit');
  const deleteBtn = h('button', { type: 'button', class: 'secondary' }, 'Delete…');
  const toolbar = h('div', { class: 'buttons' }, editBtn, deleteBtn,
    h('a', { class: 'button secondary', href: graphHref(obj.type, obj.id) }, 'Show in graph'),
    h('a', { class: 'button secondary', href: `#/evaluate/check${query({ object_type: obj.type, object_id: obj.id })}` }, 'Check…'));

  const view = h('section', { 'aria-labelledby': 'details-h' }, h('h2', { id: 'details-h' }, 'Details'), details, h('h3', 'Properties'), propsView);
  const editArea = h('div');
  const deleteArea = h('div');
  root.append(title, sub, pageErr, toolbar, deleteArea, editArea, view);

  // edit
  editBtn.addEventListener('click', () => {
    if (editArea.firstChild) return;
    let baseEtag = obj.etag || '';
    const nameF = field({ label: 'Display name', name: 'display_name', value: obj.display_name || '' });
    const propsF = field({ label: 'Properties (JSON object)', name: 'properties', type: 'textarea', rows: 8, value: json(obj.properties || {}) });
    const version = h('p', { class: 'hint' }, 'Saving sends the ETag you opened: ', h('code', baseEtag || '(none)'), '.');
    const err = errorBox();
    const current = h('div');
    const save = h('button', { type: 'submit' }, 'Save');
    const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
    const form = h('form', { class: 'stack card', 'aria-labelledby': 'edit-h' }, h('h2', { id: 'edit-h' }, `Edit ${obj.type}:${obj.id}`), nameF, propsF, version, err, current, h('div', { class: 'buttons' }, save, cancel));
    editArea.append(form);
    nameF.input.focus();
    cancel.addEventListener('click', () => {
      clear(editArea);
      editBtn.focus();
    });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      err.show(null);
      let properties;
      try {
        properties = parseProps(propsF.input.value);
      } catch (x) {
        return err.show(x.message);
      }
      save.disabled = true;
      try {
        await api.api('POST', '/api/v3/directory/object', { body: { object: { type: obj.type, id: obj.id, display_name: nameF.input.value, properties, etag: baseEtag } } });
        renderAgain(root, ctx, type, id);
      } catch (x) {
        if (isStale(x)) {
          clear(err);
          err.append(h('p', h('strong', 'Not saved: this object was changed since you opened it for editing. '),
            'Your edits are kept below. Look at the current version, then save again to replace it, or cancel.'),
          h('p', { class: 'muted' }, `Server: ${x.message}`));
          const show = h('button', { type: 'button', class: 'secondary' }, 'Show the current version');
          err.append(show);
          show.addEventListener('click', async () => {
            try {
              const cur = (await api.api('GET', path)).result;
              baseEtag = cur.etag || '';
              clear(version).append('Saving now replaces the current version, ETag ', h('code', baseEtag), '.');
              clear(current).append(h('section', { class: 'card', 'aria-labelledby': 'cur-h' }, h('h3', { id: 'cur-h' }, 'Current version'),
                h('dl', { class: 'props' }, h('dt', 'Display name'), h('dd', cur.display_name || ''), h('dt', 'ETag'), h('dd', h('code', cur.etag || ''))),
                h('pre', { class: 'json' }, json(cur.properties || {}))));
              show.remove();
            } catch (y) {
              err.show(y);
            }
          });
        } else {
          err.show(x);
        }
      } finally {
        save.disabled = false;
      }
    });
  });

  // delete
  deleteBtn.addEventListener('click', () => {
    if (deleteArea.firstChild) return;
    const withRel = field({ label: 'Also delete every relation that references it', name: 'with_relations', type: 'checkbox', value: true });
    const err = errorBox();
    const yes = h('button', { type: 'button', class: 'danger' }, `Delete ${obj.type}:${obj.id}`);
    const no = h('button', { type: 'button', class: 'secondary' }, 'Keep it');
    const box = h('section', { class: 'card confirm', role: 'group', 'aria-labelledby': 'del-h' },
      h('h2', { id: 'del-h' }, 'Delete this object?'), h('p', `This removes ${obj.type}:${obj.id} from the directory.`), withRel, err, h('div', { class: 'buttons' }, yes, no));
    deleteArea.append(box);
    no.focus();
    no.addEventListener('click', () => {
      clear(deleteArea);
      deleteBtn.focus();
    });
    yes.addEventListener('click', async () => {
      try {
        await api.api('DELETE', path, { query: { with_relations: withRel.input.checked ? 'true' : '' } });
        location.hash = `#/directory/${seg(obj.type)}`;
      } catch (x) {
        err.show(x);
      }
    });
  });

  // relations
  const asObject = h('section', { 'aria-labelledby': 'rel-obj-h' }, h('h2', { id: 'rel-obj-h' }, 'Relations on this object'));
  const asSubject = h('section', { 'aria-labelledby': 'rel-sub-h' }, h('h2', { id: 'rel-sub-h' }, 'Relations where it is the subject'));
  root.append(asObject, asSubject);
  const objTable = h('div');
  const subTable = h('div');
  asObject.append(objTable, relationEditor(obj, model, () => loadRelations()));
  asSubject.append(subTable);

  async function loadRelations() {
    try {
      const [o, s] = await Promise.all([
        api.all('/api/v3/directory/relations', { object_type: obj.type, object_id: obj.id }),
        api.all('/api/v3/directory/relations', { subject_type: obj.type, subject_id: obj.id }),
      ]);
      clear(objTable).append(relTable(o, 'object', loadRelations, pageErr));
      clear(subTable).append(relTable(s, 'subject', loadRelations, pageErr));
    } catch (e) {
      pageErr.show(e);
    }
  }
  await loadRelations();
}

function renderAgain(root, ctx, type, id) {
  const parent = root.parentNode;
  if (!parent) return;
  const fresh = h('div', { class: root.className });
  parent.replaceChild(fresh, root);
  renderObject(fresh, ctx, type, id).catch((e) => ctx.showError(e));
}

function relTable({ items, more }, side, reload, err) {
  if (!items.length) return h('p', { class: 'muted' }, side === 'object' ? 'No relations on this object.' : 'It is the subject of no relation.');
  const head = side === 'object'
    ? [h('th', { scope: 'col' }, 'Relation'), h('th', { scope: 'col' }, 'Subject'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions'))]
    : [h('th', { scope: 'col' }, 'Object'), h('th', { scope: 'col' }, 'Relation'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions'))];
  const rows = items.map((r) => {
    const del = confirmButton('Delete', 'Confirm delete', `Delete relation ${relationText(r)}`, async () => {
      try {
        await api.api('DELETE', '/api/v3/directory/relation', { query: relParams(r) });
        await reload();
      } catch (e) {
        err.show(e);
      }
    });
    const subject = h('a', { href: objectHref(r.subject_type, r.subject_id) }, subjectLabel(r));
    const object = h('a', { href: objectHref(r.object_type, r.object_id) }, `${r.object_type}:${r.object_id}`);
    return side === 'object'
      ? h('tr', { dataset: { relation: relationText(r) } }, h('td', r.relation), h('td', subject), h('td', del))
      : h('tr', { dataset: { relation: relationText(r) } }, h('td', object), h('td', r.relation), h('td', del));
  });
  return h('div', h('table', { class: `list relations relations-${side}` },
    h('caption', { class: 'sr-only' }, side === 'object' ? 'Relations on this object' : 'Relations where it is the subject'),
    h('thead', h('tr', head)), h('tbody', rows)),
  more ? h('p', { class: 'muted' }, 'Only the first 1000 relations are shown.') : null);
}

function relationEditor(obj, model, reload) {
  const def = model.types[obj.type];
  const relations = def ? Object.entries(def.relations) : [];
  if (!relations.length) {
    return h('p', { class: 'muted' }, def ? `The manifest declares no relations for ${obj.type}.` : `The manifest does not declare the type ${obj.type}.`);
  }
  const relF = field({ label: 'Relation', name: 'relation', options: relations.map(([r]) => r) });
  const subjF = field({ label: 'Subject type', name: 'subject', options: [] });
  const listId = nextId('subject-ids');
  const datalist = h('datalist', { id: listId });
  const idF = field({ label: 'Subject id', name: 'subject_id', list: listId, required: true });
  const err = errorBox();
  const form = h('form', { class: 'inline card', 'aria-labelledby': 'add-rel-h' }, h('h3', { id: 'add-rel-h' }, 'Add a relation'), relF, subjF, idF, datalist,
    h('button', { type: 'submit' }, 'Add relation'), err);

  function fillSubjects() {
    const expr = def.relations[relF.input.value];
    clear(subjF.input);
    for (const sub of subjectsOf(expr)) {
      const value = sub.wildcard ? `${sub.type}:*` : sub.relation ? `${sub.type}#${sub.relation}` : sub.type;
      subjF.input.append(h('option', { value }, value));
    }
    fillIds();
  }
  let idsFor = '';
  async function fillIds() {
    const value = subjF.input.value || '';
    const wildcard = value.endsWith(':*');
    idF.input.readOnly = wildcard;
    if (wildcard) idF.input.value = '*';
    else if (idF.input.value === '*') idF.input.value = '';
    const type = value.split(/[#:]/)[0];
    if (!type || type === idsFor) return;
    idsFor = type;
    clear(datalist);
    try {
      const page = await api.api('GET', '/api/v3/directory/objects', { query: { object_type: type, 'page.size': 100 } });
      for (const o of page.results || []) datalist.append(h('option', { value: o.id }, o.display_name || o.id));
    } catch {
      // suggestions only
    }
  }
  relF.input.addEventListener('change', fillSubjects);
  subjF.input.addEventListener('change', fillIds);
  fillSubjects();

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.show(null);
    const value = subjF.input.value;
    const [left, subject_relation = ''] = value.split('#');
    const subject_type = left.replace(/:\*$/, '');
    const subject_id = idF.input.value.trim();
    if (!subject_id) return err.show('Subject id is required.');
    try {
      await api.api('POST', '/api/v3/directory/relation', {
        body: { relation: { object_type: obj.type, object_id: obj.id, relation: relF.input.value, subject_type, subject_id, subject_relation } },
      });
      idF.input.value = '';
      await reload();
      idF.input.focus();
    } catch (x) {
      err.show(x);
    }
  });
  return form;
}
