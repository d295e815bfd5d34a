// Draws a directory check's evaluation tree (TraceNode) as nested lists.
import { h } from './dom.js';

function describe(n) {
  const kids = (n.children || []).length;
  switch (n.kind) {
    case 'relation': return [h('span', { class: 'kind' }, 'relation'), ' ', h('code', n.node || '')];
    case 'permission': return [h('span', { class: 'kind' }, 'permission'), ' ', h('code', n.node || '')];
    case 'union': return [h('span', { class: 'kind' }, 'union'), ` — any of ${kids}`];
    case 'intersection': return [h('span', { class: 'kind' }, 'intersection'), ` — all of ${kids}`];
    case 'exclusion': return [h('span', { class: 'kind' }, 'exclusion'), ' — the first, but not the others'];
    case 'arrow': return [h('span', { class: 'kind' }, 'arrow'), ' ', h('code', `${n.via || '?'}->${n.target || '?'}`), ` — follow ${n.via || '?'}, then ${n.target || '?'} on each subject reached`];
    case 'tuple': return [h('span', { class: 'kind' }, 'tuple'), ' ', h('code', n.subject || '')];
    case 'wildcard': return [h('span', { class: 'kind' }, 'wildcard'), ' ', h('code', n.subject || '')];
    case 'subject_set': return [h('span', { class: 'kind' }, 'subject set'), ' ', h('code', n.subject || '')];
    case 'cycle': return [h('span', { class: 'kind' }, 'cycle cut'), ' at ', h('code', n.node || ''), n.dependent ? [' — makes ', h('code', n.dependent), ' undecidable'] : ' — already being evaluated on this path'];
    default: return [h('span', { class: 'kind' }, n.kind || 'step'), n.node ? [' ', h('code', n.node)] : null];
  }
}

function whyDenied(n) {
  if (n.allowed) return null;
  const kids = n.children || [];
  if (n.undecidable) return 'undecidable: its answer depends on its own negation';
  switch (n.kind) {
    case 'relation':
    case 'permission':
      return kids.length ? null : 'no matching relation is stored';
    case 'union': return kids.length ? 'no branch granted' : 'nothing to evaluate';
    case 'intersection': return 'a branch did not grant';
    case 'exclusion': return kids.length && kids[0].allowed ? 'excluded: a subtracted branch granted' : 'the base branch did not grant';
    case 'arrow': return kids.length ? 'no subject reached holds it' : `no ${n.via || ''} relation to follow`;
    case 'cycle': return 'cycle: evaluated as not granted here';
    default: return null;
  }
}

function item(n, depth) {
  const why = whyDenied(n);
  const li = h('li', { class: ['step', n.allowed ? 'granted' : 'denied', n.kind] },
    h('span', { class: ['badge', n.allowed ? 'yes' : 'no'] }, n.allowed ? 'granted' : 'denied'), ' ',
    describe(n),
    n.undecidable && n.kind !== 'cycle' ? h('span', { class: 'note-inline' }, ' (undecidable)') : null,
    why ? h('span', { class: 'why' }, ` — ${why}`) : null);
  const kids = n.children || [];
  if (kids.length && depth < 200) li.append(h('ul', kids.map((c) => item(c, depth + 1))));
  return li;
}

/** explanation: {allowed, trace, text, revision} */
export function renderExplain(explanation, label = 'Evaluation tree') {
  const e = explanation || {};
  const box = h('div', { class: 'explain' });
  box.append(h('p', { class: 'verdict' }, h('span', { class: ['badge', 'big', e.allowed ? 'yes' : 'no'] }, e.allowed ? 'Allowed' : 'Denied'),
    e.revision !== undefined ? h('span', { class: 'muted' }, ` at directory revision ${e.revision}`) : null));
  if (e.trace) {
    box.append(h('div', { class: 'trace', role: 'group', 'aria-label': label }, h('ul', item(e.trace, 0))));
  } else {
    box.append(h('p', { class: 'muted' }, 'No evaluation tree: the object is not in the directory.'));
  }
  if (e.text) box.append(h('details', h('summary', 'As text'), h('pre', { class: 'json' }, e.text)));
  return box;
}
