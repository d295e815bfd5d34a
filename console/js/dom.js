// Small DOM helpers. Text is always set as text, never parsed as markup.

const SVG_NS = 'http://www.w3.org/2000/svg';

function apply(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    } else if (k === 'text') {
      el.textContent = v;
    } else if (k === 'value' && 'value' in el) {
      el.value = v;
    } else if (k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden' || k === 'required' || k === 'multiple' || k === 'readOnly') {
      el[k] = Boolean(v);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** h('a', {href: '#/x'}, 'text', child, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs && (attrs instanceof Node || typeof attrs !== 'object' || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  apply(el, attrs);
  append(el, children);
  return el;
}

/** SVG element. */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  if (attrs && (attrs instanceof Node || typeof attrs !== 'object' || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  apply(el, attrs);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

let uid = 0;
export function nextId(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** A labelled form field. opts: {label, name, type, value, options, required, hint, rows, list, autocomplete} */
export function field(opts) {
  const id = opts.id || nextId(opts.name || 'f');
  let input;
  if (opts.options) {
    input = h('select', { id, name: opts.name, required: opts.required });
    for (const o of opts.options) {
      const [value, label] = Array.isArray(o) ? o : [o, o];
      input.append(h('option', { value, selected: String(value) === String(opts.value ?? '') }, label));
    }
  } else if (opts.type === 'textarea') {
    input = h('textarea', { id, name: opts.name, rows: opts.rows || 4, required: opts.required, spellcheck: 'false' });
    input.value = opts.value ?? '';
  } else {
    input = h('input', {
      id, name: opts.name, type: opts.type || 'text', required: opts.required, list: opts.list,
      autocomplete: opts.autocomplete || 'off', placeholder: opts.placeholder, spellcheck: 'false',
    });
    if (opts.type === 'checkbox') input.checked = Boolean(opts.value);
    else input.value = opts.value ?? '';
  }
  const hintId = opts.hint ? `${id}-hint` : null;
  if (hintId) input.setAttribute('aria-describedby', hintId);
  const wrap = h('div', { class: ['field', opts.type === 'checkbox' && 'check', opts.class] },
    opts.type === 'checkbox' ? [input, h('label', { for: id }, opts.label)] : [h('label', { for: id }, opts.label), input],
    hintId && h('p', { class: 'hint', id: hintId }, opts.hint));
  wrap.input = input;
  return wrap;
}

/** An error region announced to assistive technology; empty (and not shown) until set. */
export function errorBox() {
  const box = h('div', { class: 'error', role: 'alert' });
  box.show = (err) => {
    clear(box);
    if (!err) return;
    const msg = typeof err === 'string' ? err : (err.message || String(err));
    box.append(h('p', msg));
  };
  return box;
}

export function debounce(fn, ms) {
  let t;
  return (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
}

export function json(v) {
  return JSON.stringify(v, null, 2);
}

export function fmtTime(t) {
  if (!t) return '';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toLocaleString();
}

/** Path segment encoding for hash routes; keeps @ and : readable. */
export function seg(v) {
  return encodeURIComponent(v).replace(/%40/g, '@').replace(/%3A/gi, ':');
}

export function objectHref(type, id) {
  return `#/object/${seg(type)}/${seg(id)}`;
}

export function graphHref(type, id) {
  return `#/graph/${seg(type)}/${seg(id)}`;
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const str = q.toString();
  return str ? `?${str}` : '';
}
