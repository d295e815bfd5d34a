// Same-origin calls to the REST API, with the API key and tenant headers, and the key prompt.

const KEY_STORE = 'lictor.apiKey';
const TENANT_STORE = 'lictor.tenant';

const state = {
  key: sessionStorage.getItem(KEY_STORE) || '',
  tenant: sessionStorage.getItem(TENANT_STORE) || '',
};

export class ApiError extends Error {
  constructor(status, body, fallback) {
    const message = (body && typeof body === 'object' && body.message) || fallback || `HTTP ${status}`;
    super(message);
    this.status = status;
    this.code = body && typeof body === 'object' ? body.code : undefined;
    this.details = body && typeof body === 'object' ? body.details : undefined;
    this.body = body;
  }
}

export function tenant() {
  return state.tenant;
}

export function setTenant(id) {
  state.tenant = id || '';
  if (state.tenant) sessionStorage.setItem(TENANT_STORE, state.tenant);
  else sessionStorage.removeItem(TENANT_STORE);
}

export function hasKey() {
  return Boolean(state.key);
}

export function setKey(key) {
  state.key = key || '';
  if (state.key) sessionStorage.setItem(KEY_STORE, state.key);
  else sessionStorage.removeItem(KEY_STORE);
}

export function headers(extra) {
  const hd = { accept: 'application/json', ...extra };
  if (state.key) hd.authorization = `basic ${state.key}`;
  if (state.tenant) hd['aserto-tenant-id'] = state.tenant;
  return hd;
}

// One prompt at a time: calls that meet a 401 while it is open wait for the same answer.
let pending = null;
let keyPrompt = async () => false;

/** The app installs the dialog: fn(reason) resolves true when a key was entered. */
export function onKeyNeeded(fn) {
  keyPrompt = fn;
}

export function askKey(reason) {
  if (!pending) {
    pending = keyPrompt(reason).finally(() => {
      pending = null;
    });
  }
  return pending;
}

function isUnauthenticated(status, body) {
  return status === 401 || (body && typeof body === 'object' && body.code === 16);
}

function parse(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * api('GET', '/api/v3/directory/objects', {query: {...}})
 * opts: {query, body, text (raw string body), contentType, headers, raw (return {data, res}), signal}
 */
export async function api(method, path, opts = {}) {
  let url = path;
  if (opts.query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query)) {
      if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    }
    const qs = q.toString();
    if (qs) url += (url.includes('?') ? '&' : '?') + qs;
  }
  for (;;) {
    const extra = { ...(opts.headers || {}) };
    let body;
    if (opts.text !== undefined) {
      body = opts.text;
      extra['content-type'] = opts.contentType || 'text/plain';
    } else if (opts.body !== undefined) {
      body = JSON.stringify(opts.body);
      extra['content-type'] = 'application/json';
    }
    const sentKey = state.key;
    let res;
    try {
      res = await fetch(url, { method, headers: headers(extra), body, signal: opts.signal, cache: 'no-store', credentials: 'omit' });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, null, `The server could not be reached (${e.message})`);
    }
    if (opts.stream && res.ok) return res;
    const data = parse(await res.text());
    if (isUnauthenticated(res.status, data)) {
      const reason = sentKey ? 'The server refused the API key.' : 'The server asks for an API key.';
      const ok = await askKey(reason);
      if (ok) continue;
      throw new ApiError(res.status, data, 'An API key is required');
    }
    if (!res.ok) {
      const fallback = typeof data === 'string' && data ? data.slice(0, 300) : `${res.status} ${res.statusText}`;
      throw new ApiError(res.status, data, fallback);
    }
    return opts.raw ? { data, res } : data;
  }
}

/** Every page of a paged list, at most `limit` items. */
export async function all(path, query, key = 'results', limit = 1000) {
  const out = [];
  let token = '';
  do {
    const page = await api('GET', path, { query: { ...query, 'page.size': 100, 'page.token': token } });
    out.push(...((page && page[key]) || []));
    token = (page && page.page && page.page.next_token) || '';
  } while (token && out.length < limit);
  return { items: out, more: Boolean(token) };
}

/** Server-Sent Events over fetch (so the key header is sent). onEvent(data, id); returns when the stream ends. */
export async function stream(path, query, onEvent, signal) {
  const res = await api('GET', path, { query, stream: true, signal, headers: { accept: 'text/event-stream' } });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let data = [];
  let id = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
    let nl;
    while ((nl = buf.search(/\r?\n/)) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf[nl] === '\r' ? 2 : 1));
      if (line === '') {
        if (data.length) onEvent(data.join('\n'), id);
        data = [];
      } else if (line.startsWith(':')) {
        // comment / keep-alive
      } else {
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const val = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'data') data.push(val);
        else if (field === 'id') id = val;
      }
    }
  }
}

/** Manifest source and its ETag. */
export async function getManifest() {
  for (;;) {
    const res = await fetch('/api/v3/directory/manifest', { headers: headers({ accept: 'application/yaml, text/plain, */*' }), cache: 'no-store' });
    const text = await res.text();
    if (isUnauthenticated(res.status, parse(text))) {
      if (await askKey(state.key ? 'The server refused the API key.' : 'The server asks for an API key.')) continue;
      throw new ApiError(res.status, parse(text), 'An API key is required');
    }
    if (!res.ok) throw new ApiError(res.status, parse(text));
    return { source: text, etag: res.headers.get('etag') || '' };
  }
}
