// Lictor console: routing, the top bar (tenant, API key) and the key prompt.
import * as api from './api.js';
import { h, clear } from './dom.js';
import { forgetModel } from './manifest.js';
import * as directory from './directory.js';
import * as graph from './graph.js';
import * as model from './model.js';
import * as evaluate from './evaluate.js';
import * as decisions from './decisions.js';

const main = document.getElementById('main');
const alertBox = document.getElementById('alert');
const tenantSelect = document.getElementById('tenant');
const dialog = document.getElementById('key-dialog');
const keyForm = document.getElementById('key-form');
const keyInput = document.getElementById('key-input');
const keyReason = document.getElementById('key-reason');

export function showError(err) {
  clear(alertBox);
  if (!err) return;
  if (err.name === 'AbortError') return;
  alertBox.append(h('p', typeof err === 'string' ? err : err.message || String(err)));
}

// ---- API key dialog ---------------------------------------------------------------------------

let resolveKey = null;

function openKeyDialog(reason) {
  keyReason.textContent = reason || 'Enter the API key to send with every request.';
  keyInput.value = '';
  if (!dialog.open) dialog.showModal();
  keyInput.focus();
  return new Promise((resolve) => {
    resolveKey = resolve;
  });
}

function closeKeyDialog(result) {
  keyInput.value = '';
  if (dialog.open) dialog.close();
  const r = resolveKey;
  resolveKey = null;
  if (r) r(result);
}

keyForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const key = keyInput.value.trim();
  if (!key) {
    keyReason.textContent = 'Enter a key, or Cancel.';
    keyInput.focus();
    return;
  }
  api.setKey(key);
  closeKeyDialog(true);
});
document.getElementById('key-cancel').addEventListener('click', () => closeKeyDialog(false));
document.getElementById('key-forget').addEventListener('click', () => {
  api.setKey('');
  closeKeyDialog(false);
  route();
});
dialog.addEventListener('cancel', (e) => {
  e.preventDefault();
  closeKeyDialog(false);
});

api.onKeyNeeded((reason) => openKeyDialog(reason));

document.getElementById('key-button').addEventListener('click', async () => {
  const ok = await openKeyDialog(api.hasKey() ? 'A key is set. Enter another one to replace it.' : 'Enter the API key to send with every request.');
  if (ok) {
    forgetModel();
    loadTenants();
    route();
  }
});

// ---- tenants ----------------------------------------------------------------------------------

async function loadTenants() {
  let tenants = [{ id: '', name: 'default' }];
  try {
    const res = await api.api('GET', '/api/v3/lictor/tenants');
    if (res && Array.isArray(res.tenants) && res.tenants.length) tenants = res.tenants;
    // A key that belongs to one tenant: the server says which.
    if (res && res.current && !api.tenant()) {
      api.setTenant(res.current);
      forgetModel();
    }
  } catch (e) {
    if (e.status !== 404) showError(e);
  }
  const current = api.tenant();
  clear(tenantSelect);
  for (const t of tenants) tenantSelect.append(h('option', { value: t.id || '' }, t.name || t.id || 'default'));
  if (!tenants.some((t) => (t.id || '') === current)) tenantSelect.append(h('option', { value: current }, current));
  tenantSelect.value = current;
}

tenantSelect.addEventListener('change', () => {
  api.setTenant(tenantSelect.value);
  forgetModel();
  route();
});

// ---- routing ----------------------------------------------------------------------------------

const pages = {
  directory: { title: 'Directory', render: directory.renderDirectory },
  object: { title: 'Object', render: directory.renderObject, nav: 'directory' },
  new: { title: 'New object', render: directory.renderNew, nav: 'directory' },
  graph: { title: 'Graph', render: graph.render },
  model: { title: 'Model', render: model.render },
  evaluate: { title: 'Evaluate', render: evaluate.render },
  decisions: { title: 'Decisions', render: decisions.render },
};

export function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const qi = raw.indexOf('?');
  const path = qi >= 0 ? raw.slice(0, qi) : raw;
  const params = new URLSearchParams(qi >= 0 ? raw.slice(qi + 1) : '');
  const parts = path.split('/').filter((p) => p !== '').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { name: parts[0] || 'directory', args: parts.slice(1), params };
}

let current = null;
let first = true;

async function route() {
  if (location.hash && !location.hash.startsWith('#/')) return;
  if (current) current.abort();
  const ctl = new AbortController();
  current = ctl;
  showError(null);
  const { name, args, params } = parseHash();
  const page = pages[name] || pages.directory;
  const navName = page.nav || (pages[name] ? name : 'directory');
  for (const a of document.querySelectorAll('nav a[data-route]')) {
    if (a.dataset.route === navName) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${page.title} · Lictor console`;
  clear(main);
  const root = h('div', { class: `page page-${name}` });
  main.append(root);
  const ctx = { signal: ctl.signal, params, args, showError, focus: !first };
  first = false;
  try {
    await page.render(root, ctx, ...args);
  } catch (e) {
    if (!ctl.signal.aborted) showError(e);
  }
  if (ctx.focus && !ctl.signal.aborted) {
    const heading = root.querySelector('h1');
    if (heading && !root.contains(document.activeElement)) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: false });
    }
  }
}

export function refresh() {
  route();
}

window.addEventListener('hashchange', route);
document.getElementById('skip').addEventListener('click', (e) => {
  e.preventDefault();
  const heading = main.querySelector('h1');
  (heading || main).tabIndex = -1;
  (heading || main).focus();
});

loadTenants();
route();
