// Reads a directory manifest (YAML) into {types: {name: {relations: {r: expr}, permissions: {p: expr}}}}.
// A small YAML reader for the subset manifests use: block mappings and sequences, comments, quoted and
// plain scalars, flow {} / [] collections, and | / > block scalars.

function stripComment(line) {
  let quote = null;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]))) {
      return line.slice(0, i);
    }
  }
  return line;
}

function scalar(text) {
  const t = text.trim();
  if (t === '' || t === '~' || t === 'null') return null;
  if (t === 'true') return true;
  if (t === 'false') return false;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  if ((t.startsWith('"') && t.endsWith('"')) || (t.startsWith("'") && t.endsWith("'"))) {
    const inner = t.slice(1, -1);
    if (t[0] === '"') {
      try {
        return JSON.parse(t);
      } catch {
        return inner;
      }
    }
    return inner.replace(/''/g, "'");
  }
  if (t.startsWith('{') || t.startsWith('[')) return flow(t);
  return t;
}

function splitTop(inner) {
  const parts = [];
  let depth = 0;
  let quote = null;
  let cur = '';
  for (const c of inner) {
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '{' || c === '[') depth += 1;
    else if (c === '}' || c === ']') depth -= 1;
    else if (c === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur.trim()) parts.push(cur);
  return parts;
}

function flow(t) {
  const inner = t.slice(1, -1);
  if (t.startsWith('[')) return splitTop(inner).map(scalar);
  const obj = {};
  for (const part of splitTop(inner)) {
    const i = part.indexOf(':');
    if (i < 0) obj[part.trim()] = null;
    else obj[scalar(part.slice(0, i))] = scalar(part.slice(i + 1));
  }
  return obj;
}

function keySplit(content) {
  // key: value, where key may be quoted; the colon must be followed by space or end.
  const m = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^:]+?)\s*:(?:\s+(.*)|$)/.exec(content);
  if (!m) return null;
  return { key: String(scalar(m[1])), rest: (m[2] || '').trim() };
}

export function parseYaml(source) {
  const lines = [];
  for (const raw of String(source).replace(/\t/g, '  ').split(/\r?\n/)) {
    lines.push(raw);
  }
  let i = 0;

  function next() {
    while (i < lines.length) {
      const raw = lines[i];
      const text = stripComment(raw);
      if (text.trim() === '' || /^(---|\.\.\.)\s*$/.test(text.trim())) {
        i += 1;
        continue;
      }
      return { indent: text.length - text.trimStart().length, content: text.trim() };
    }
    return null;
  }

  function blockScalar(style, parentIndent) {
    const out = [];
    let ind = -1;
    while (i < lines.length) {
      const raw = lines[i];
      if (raw.trim() === '') {
        out.push('');
        i += 1;
        continue;
      }
      const indent = raw.length - raw.trimStart().length;
      if (indent <= parentIndent) break;
      if (ind < 0) ind = indent;
      out.push(raw.slice(ind));
      i += 1;
    }
    while (out.length && out[out.length - 1] === '') out.pop();
    return style.startsWith('>') ? out.join(' ') : `${out.join('\n')}\n`;
  }

  function value(rest, indent) {
    if (rest === '') {
      const n = next();
      if (n && (n.indent > indent || (n.indent === indent && n.content.startsWith('- ')))) return block(n.indent);
      return null;
    }
    if (/^[|>][+-]?\d*$/.test(rest)) return blockScalar(rest, indent);
    return scalar(rest);
  }

  function block(indent) {
    const first = next();
    if (!first) return null;
    if (first.content === '-' || first.content.startsWith('- ')) {
      const arr = [];
      for (let n = next(); n && n.indent === indent && (n.content === '-' || n.content.startsWith('- ')); n = next()) {
        i += 1;
        const rest = n.content.slice(1).trim();
        const kv = rest && keySplit(rest);
        if (kv && !rest.startsWith('{') && !rest.startsWith('"')) {
          // "- key: value" starts a mapping item indented by the dash's width.
          const obj = {};
          obj[kv.key] = value(kv.rest, n.indent + 2);
          const more = next();
          if (more && more.indent === n.indent + 2) Object.assign(obj, block(n.indent + 2));
          arr.push(obj);
        } else {
          arr.push(value(rest, n.indent));
        }
      }
      return arr;
    }
    const obj = {};
    for (let n = next(); n && n.indent === indent; n = next()) {
      const kv = keySplit(n.content);
      i += 1;
      if (!kv) continue;
      obj[kv.key] = value(kv.rest, indent);
    }
    return obj;
  }

  const n = next();
  if (!n) return null;
  return block(n.indent);
}

/** 'user | group#member | user:*' -> [{type:'user'}, {type:'group', relation:'member'}, {type:'user', wildcard:true}] */
export function subjectsOf(expr) {
  return String(expr || '')
    .split('|')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => {
      if (p.endsWith(':*')) return { type: p.slice(0, -2), wildcard: true };
      const [type, relation] = p.split('#');
      return relation ? { type, relation } : { type };
    });
}

/** Display names given in "### display_name: X ###" comments before a type. */
function displayNames(source) {
  const names = {};
  let pending = null;
  for (const line of String(source).split(/\r?\n/)) {
    const m = /^\s*###\s*display_name:\s*(.+?)\s*###\s*$/.exec(line);
    if (m) {
      pending = m[1];
      continue;
    }
    const t = /^ {2}([A-Za-z0-9_.-]+):/.exec(line);
    if (t && pending) {
      names[t[1]] = pending;
      pending = null;
    } else if (line.trim() && !line.trim().startsWith('#')) {
      pending = null;
    }
  }
  return names;
}

export function readManifest(source) {
  const doc = parseYaml(source || '') || {};
  const types = {};
  const names = displayNames(source || '');
  const raw = (doc && typeof doc === 'object' && doc.types) || {};
  for (const [name, def] of Object.entries(raw)) {
    const d = def && typeof def === 'object' ? def : {};
    const relations = {};
    const permissions = {};
    for (const [r, e] of Object.entries(d.relations || {})) relations[r] = e == null ? '' : String(e);
    for (const [p, e] of Object.entries(d.permissions || {})) permissions[p] = e == null ? '' : String(e).trim();
    types[name] = { name, displayName: names[name] || '', relations, permissions };
  }
  return { version: doc && doc.model ? doc.model.version : undefined, types };
}

let cache = null;

/** The current manifest, read once per tenant and refreshed on demand. */
export async function loadModel(api, force = false) {
  const key = api.tenant();
  if (!force && cache && cache.tenant === key) return cache.model;
  const { source, etag } = await api.getManifest();
  const model = { ...readManifest(source), source, etag };
  cache = { tenant: key, model };
  return model;
}

export function forgetModel() {
  cache = null;
}
