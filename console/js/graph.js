// Graph: an object's neighbourhood as SVG. Nodes are objects, edges relations (object → subject).
import * as api from './api.js';
import { h, s, clear, field, errorBox, objectHref, seg } from './dom.js';
import { loadModel } from './manifest.js';

const COL = 360;
const ROW = 54;
const NODE_W = 210;
const NODE_H = 34;
const PER_SIDE = 100;
const MAX_NODES = 400;

const key = (type, id) => `${type}:${id}`;

export async function render(root, ctx, type, id) {
  root.append(h('h1', 'Graph'));
  let model = { types: {} };
  try {
    model = await loadModel(api);
  } catch (e) {
    ctx.showError(e);
  }
  const types = Object.keys(model.types);
  const typeF = types.length ? field({ label: 'Object type', name: 'type', options: types, value: type || 'user' }) : field({ label: 'Object type', name: 'type', value: type || '' });
  const idF = field({ label: 'Object id', name: 'id', value: id || '', required: true });
  const form = h('form', { class: 'inline', 'aria-label': 'Start object' }, typeF, idF, h('button', { type: 'submit' }, 'Show'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!idF.input.value.trim()) return;
    location.hash = `#/graph/${seg(typeF.input.value.trim())}/${seg(idF.input.value.trim())}`;
  });
  root.append(form);
  if (!type || !id) {
    root.append(h('p', 'Choose an object to draw its neighbourhood. Select a node (click, or Tab to it and press Enter) to expand its neighbours.'));
    return;
  }

  const nodes = new Map();
  const edges = new Map();
  const err = errorBox();
  const status = h('p', { class: 'status', 'aria-live': 'polite' });
  const svgWrap = h('div', { class: 'graph-wrap' });
  const selected = h('div', { class: 'selected card', 'aria-live': 'polite' });
  const edgeList = h('div');
  const expandAll = h('button', { type: 'button', class: 'secondary' }, 'Expand 3 levels');
  root.append(h('p', { class: 'hint' }, 'Arrows run from an object to its subject, labelled with the relation. Enter or click on a node expands it.'),
    h('div', { class: 'buttons' }, expandAll, h('a', { class: 'button secondary', href: objectHref(type, id) }, 'Open object page')),
    err, status, svgWrap, selected, h('details', { class: 'edges' }, h('summary', 'Relations in the graph as a list'), edgeList));

  let selectedKey = key(type, id);

  function addNode(t, i, depth) {
    const k = key(t, i);
    if (!nodes.has(k)) nodes.set(k, { key: k, type: t, id: i, depth, expanded: false, more: false });
    return nodes.get(k);
  }

  async function expand(node) {
    if (node.expanded || node.loading) return;
    node.loading = true;
    try {
      const [asObj, asSub] = await Promise.all([
        api.api('GET', '/api/v3/directory/relations', { query: { object_type: node.type, object_id: node.id, 'page.size': PER_SIDE }, signal: ctx.signal }),
        api.api('GET', '/api/v3/directory/relations', { query: { subject_type: node.type, subject_id: node.id, 'page.size': PER_SIDE }, signal: ctx.signal }),
      ]);
      for (const r of [...(asObj.results || []), ...(asSub.results || [])]) {
        if (nodes.size >= MAX_NODES) {
          node.more = true;
          break;
        }
        const o = addNode(r.object_type, r.object_id, node.depth + 1);
        const sub = addNode(r.subject_type, r.subject_id, node.depth + 1);
        const label = r.subject_relation ? `${r.relation} (#${r.subject_relation})` : r.relation;
        edges.set(`${o.key}#${r.relation}@${sub.key}#${r.subject_relation || ''}`, { from: o.key, to: sub.key, label, relation: r.relation, subject_relation: r.subject_relation || '' });
      }
      node.more = node.more || Boolean((asObj.page && asObj.page.next_token) || (asSub.page && asSub.page.next_token));
      node.expanded = true;
    } finally {
      node.loading = false;
    }
  }

  function layout() {
    const layers = new Map();
    for (const n of nodes.values()) {
      if (!layers.has(n.depth)) layers.set(n.depth, []);
      layers.get(n.depth).push(n);
    }
    // Order each layer by where its neighbours in the layer before sit (fewer crossings).
    const neighbours = new Map();
    for (const e of edges.values()) {
      if (!neighbours.has(e.from)) neighbours.set(e.from, []);
      if (!neighbours.has(e.to)) neighbours.set(e.to, []);
      neighbours.get(e.from).push(e.to);
      neighbours.get(e.to).push(e.from);
    }
    const order = new Map();
    let rows = 0;
    for (const depth of [...layers.keys()].sort((a, b) => a - b)) {
      const list = layers.get(depth);
      if (depth > 0) {
        const score = (n) => {
          const ys = (neighbours.get(n.key) || []).map((k) => order.get(k)).filter((v) => v !== undefined);
          return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : Infinity;
        };
        const scores = new Map(list.map((n) => [n.key, score(n)]));
        list.sort((a, b) => scores.get(a.key) - scores.get(b.key) || (a.key < b.key ? -1 : 1));
      }
      list.forEach((n, i) => order.set(n.key, i));
      list.forEach((n, i) => {
        n.x = 20 + depth * COL;
        n.y = 20 + i * ROW;
      });
      rows = Math.max(rows, list.length);
    }
    return { width: 40 + Math.max(...layers.keys()) * COL + NODE_W, height: 40 + rows * ROW };
  }

  function draw() {
    const { width, height } = layout();
    const svg = s('svg', { class: 'graph', width, height, viewBox: `0 0 ${width} ${height}`, role: 'group', 'aria-label': `Neighbourhood of ${type}:${id}` },
      s('defs', s('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: '10', refY: '5', markerWidth: '8', markerHeight: '8', orient: 'auto-start-reverse' },
        s('path', { d: 'M0,0 L10,5 L0,10 z', fill: '#4a5568' }))));
    const edgeLayer = s('g', { class: 'edges', 'aria-hidden': 'true' });
    const nodeLayer = s('g', { class: 'nodes' });
    svg.append(edgeLayer, nodeLayer);
    for (const e of edges.values()) {
      const a = nodes.get(e.from);
      const b = nodes.get(e.to);
      if (!a || !b) continue;
      const forward = b.x >= a.x;
      const x1 = a.x + (b.x > a.x ? NODE_W : b.x < a.x ? 0 : NODE_W);
      const y1 = a.y + NODE_H / 2;
      const x2 = b.x + (b.x > a.x ? 0 : b.x < a.x ? NODE_W : NODE_W);
      const y2 = b.y + NODE_H / 2;
      const bend = a.x === b.x ? 60 + Math.abs(y2 - y1) / 4 : 0;
      const cx = (x1 + x2) / 2 + bend;
      const cy = (y1 + y2) / 2;
      edgeLayer.append(s('path', { d: `M${x1},${y1} Q${cx},${cy} ${x2},${y2}`, class: 'edge', fill: 'none', stroke: '#4a5568', 'stroke-width': '1.5', 'marker-end': 'url(#arrow)' }));
      // label at the curve's midpoint (t = 0.5 of the quadratic)
      const lx = (x1 + 2 * cx + x2) / 4;
      const ly = (y1 + 2 * cy + y2) / 4 - (forward ? 4 : -12);
      edgeLayer.append(s('text', { x: lx, y: ly, class: 'edge-label', 'text-anchor': 'middle' }, e.label));
    }
    for (const n of nodes.values()) {
      const label = n.key.length > 28 ? `${n.key.slice(0, 27)}…` : n.key;
      const state = n.expanded ? (n.more ? 'expanded, more relations not shown' : 'expanded') : 'not expanded, press Enter to expand';
      const g = s('g', {
        class: ['node', n.expanded && 'expanded', n.key === key(type, id) && 'root', n.key === selectedKey && 'selected'],
        transform: `translate(${n.x},${n.y})`, tabindex: '0', role: 'button', 'aria-label': `${n.key}, ${state}`,
        dataset: { key: n.key },
      },
      s('title', n.key),
      s('rect', { width: NODE_W, height: NODE_H, rx: '6', ry: '6' }),
      s('text', { x: NODE_W / 2, y: NODE_H / 2 + 5, 'text-anchor': 'middle' }, label + (n.expanded ? '' : ' +')));
      const act = async () => {
        selectedKey = n.key;
        await expandAndDraw(n);
      };
      g.addEventListener('click', act);
      g.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          act();
        }
      });
      nodeLayer.append(g);
    }
    const focusedKey = document.activeElement && document.activeElement.dataset && document.activeElement.dataset.key;
    clear(svgWrap).append(svg);
    if (focusedKey) {
      const again = svg.querySelector(`g.node[data-key="${CSS.escape(focusedKey)}"]`);
      if (again) again.focus();
    }
    showSelected();
    listEdges();
    status.textContent = `${nodes.size} object${nodes.size === 1 ? '' : 's'}, ${edges.size} relation${edges.size === 1 ? '' : 's'}.`;
  }

  function showSelected() {
    const n = nodes.get(selectedKey);
    clear(selected);
    if (!n) return;
    selected.append(h('h2', `Selected: ${n.key}`),
      h('p', n.expanded ? (n.more ? 'Expanded; it has more relations than are drawn.' : 'Expanded: all its relations are drawn.') : 'Not expanded yet.'),
      h('p', h('a', { href: objectHref(n.type, n.id) }, `Open ${n.key}`), ' · ', h('a', { href: `#/graph/${seg(n.type)}/${seg(n.id)}` }, 'Centre the graph on it')));
  }

  function listEdges() {
    clear(edgeList);
    const items = [...edges.values()];
    if (!items.length) {
      edgeList.append(h('p', { class: 'muted' }, 'No relations drawn.'));
      return;
    }
    edgeList.append(h('ul', items.map((e) => {
      const [ot, ...oi] = e.from.split(':');
      const [st, ...si] = e.to.split(':');
      return h('li', h('a', { href: objectHref(ot, oi.join(':')) }, e.from), ` —${e.relation}→ `, h('a', { href: objectHref(st, si.join(':')) }, e.to + (e.subject_relation ? `#${e.subject_relation}` : '')));
    })));
  }

  async function expandAndDraw(n) {
    err.show(null);
    try {
      await expand(n);
    } catch (e) {
      if (e.name !== 'AbortError') err.show(e);
    }
    if (!ctx.signal.aborted) draw();
  }

  expandAll.addEventListener('click', async () => {
    err.show(null);
    expandAll.disabled = true;
    try {
      for (let level = 0; level < 3; level += 1) {
        const frontier = [...nodes.values()].filter((n) => !n.expanded && n.depth <= level);
        for (const n of frontier) {
          if (nodes.size >= MAX_NODES) break;
          await expand(n);
        }
      }
    } catch (e) {
      if (e.name !== 'AbortError') err.show(e);
    } finally {
      expandAll.disabled = false;
    }
    if (!ctx.signal.aborted) draw();
  });

  // The start object must exist.
  try {
    await api.api('GET', `/api/v3/directory/object/${encodeURIComponent(type)}/${encodeURIComponent(id)}`, { signal: ctx.signal });
  } catch (e) {
    if (e.status === 404 || e.code === 5) {
      err.show(`${type}:${id} is not in the directory.`);
      return;
    }
    throw e;
  }
  const start = addNode(type, id, 0);
  await expandAndDraw(start);
}
