// Model: the manifest source with line numbers, validated as the user types; saved only on request.
import * as api from './api.js';
import { h, clear, errorBox } from './dom.js';
import { forgetModel } from './manifest.js';

export async function render(root, ctx) {
  root.append(h('h1', 'Model'));
  const { source, etag: loadedEtag } = await api.getManifest();
  let etag = loadedEtag;
  let saved = source;

  const gutter = h('pre', { class: 'gutter', 'aria-hidden': 'true' });
  const area = h('textarea', { id: 'manifest-src', class: 'code', wrap: 'off', spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'manifest-status', rows: 28 });
  area.value = source;
  const editor = h('div', { class: 'editor' }, gutter, area);
  const status = h('p', { id: 'manifest-status', class: 'status', 'aria-live': 'polite' });
  const problems = h('section', { class: 'problems', 'aria-labelledby': 'problems-h' });
  const saveErr = errorBox();
  const saveBtn = h('button', { type: 'submit', disabled: true }, 'Save manifest');
  const revertBtn = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Revert');
  const form = h('form', { class: 'model-form', 'aria-label': 'Manifest' },
    h('label', { for: 'manifest-src' }, 'Manifest (YAML)'),
    editor, status, saveErr, h('div', { class: 'buttons' }, saveBtn, revertBtn));
  root.append(h('p', { class: 'hint' }, 'Changes are checked as you type. Nothing is stored until you press Save.'),
    h('p', { class: 'muted' }, 'ETag ', h('code', { class: 'etag' }, etag || '(none)')),
    form, problems);

  let errorLines = new Set();
  function numbers() {
    const count = area.value.split('\n').length;
    clear(gutter);
    for (let i = 1; i <= count; i += 1) {
      gutter.append(h('span', { class: errorLines.has(i) ? 'bad' : null }, String(i)), '\n');
    }
    gutter.scrollTop = area.scrollTop;
  }
  area.addEventListener('scroll', () => {
    gutter.scrollTop = area.scrollTop;
  });

  function goTo(line, column) {
    const lines = area.value.split('\n');
    let pos = 0;
    for (let i = 0; i < Math.min(line - 1, lines.length); i += 1) pos += lines[i].length + 1;
    pos += Math.max(0, Math.min((column || 1) - 1, (lines[line - 1] || '').length));
    area.focus();
    area.setSelectionRange(pos, pos);
    const lh = parseFloat(getComputedStyle(area).lineHeight) || 20;
    area.scrollTop = Math.max(0, (line - 5) * lh);
  }

  let seq = 0;
  let timer;
  async function validate() {
    const mine = ++seq;
    const text = area.value;
    status.textContent = 'Checking…';
    let res;
    try {
      res = await api.api('POST', '/api/v3/lictor/manifest/validate', { body: { manifest: text }, signal: ctx.signal });
    } catch (e) {
      if (mine !== seq || e.name === 'AbortError') return;
      status.textContent = `Could not validate: ${e.message}`;
      return;
    }
    if (mine !== seq) return;
    const errors = res.errors || [];
    errorLines = new Set(errors.map((e) => e.line).filter(Boolean));
    numbers();
    clear(problems);
    area.setAttribute('aria-invalid', res.valid ? 'false' : 'true');
    if (res.valid && !res.breaks) {
      status.textContent = text === saved ? 'Valid. No changes.' : 'Valid. Not saved yet.';
    } else {
      const stranded = res.breaks ? ` Saving would strand ${res.breaks.total ?? (res.breaks.violations || []).length} stored records.` : '';
      status.textContent = errors.length ? `${errors.length} problem${errors.length === 1 ? '' : 's'} found.${stranded}` : `The model is valid.${stranded}`;
    }
    if (errors.length) {
      problems.append(h('h2', { id: 'problems-h' }, 'Problems'),
        h('ul', { class: 'problem-list' }, errors.map((e) => {
          const where = e.line ? `Line ${e.line}${e.column ? `, column ${e.column}` : ''}` : 'Manifest';
          const btn = h('button', { type: 'button', class: 'link' }, h('strong', `${where}:`), ` ${e.message}`);
          if (e.line) btn.addEventListener('click', () => goTo(e.line, e.column));
          return h('li', btn);
        })));
    }
    if (res.breaks) {
      const v = res.breaks.violations || [];
      problems.append(h('h2', { id: errors.length ? 'breaks-h' : 'problems-h' }, 'Stored data this change would strand'),
        h('p', `${res.breaks.total ?? v.length} stored record${(res.breaks.total ?? v.length) === 1 ? '' : 's'} would no longer fit the model${v.length < (res.breaks.total ?? v.length) ? `; the first ${v.length}:` : ':'}`),
        h('ul', { class: 'breaks' }, v.map((x) => h('li', h('code', x)))));
    }
  }

  function changed() {
    const dirty = area.value !== saved;
    saveBtn.disabled = !dirty;
    revertBtn.disabled = !dirty;
    numbers();
    clearTimeout(timer);
    timer = setTimeout(validate, 400);
  }
  area.addEventListener('input', changed);
  revertBtn.addEventListener('click', () => {
    area.value = saved;
    saveErr.show(null);
    changed();
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    saveErr.show(null);
    saveBtn.disabled = true;
    try {
      // Saved only if the stored manifest is still the one loaded (its ETag), checked by the server.
      let res;
      try {
        const condition = etag ? { 'if-match': etag.startsWith('"') ? etag : `"${etag}"` } : {};
        res = await api.api('POST', '/api/v3/directory/manifest', { body: { body: { data: area.value } }, headers: condition });
      } catch (x) {
        if (x.code === 9 && /etag mismatch/i.test(x.message || '')) {
          saveErr.show('Not saved: the manifest was changed since you opened it. Your text is kept; copy it, reload the page and apply your changes again.');
          saveBtn.disabled = false;
          return;
        }
        throw x;
      }
      saved = area.value;
      forgetModel();
      const cur = await api.getManifest();
      etag = cur.etag;
      const shown = root.querySelector('code.etag');
      if (shown) shown.textContent = etag;
      status.textContent = `Saved at directory revision ${res.revision ?? '?'}.`;
      revertBtn.disabled = true;
    } catch (x) {
      saveErr.show(x);
      saveBtn.disabled = false;
    }
  });

  numbers();
  validate();
}
