// Form fields: each reads its input as { value } or { error } and writes a value back.
import { el, moneyInput, parseInteger, parseMoney } from './core.js';

// A field reads its input as { value } or { error }; an empty optional field reads as null.
export function field(path, label, type, opts = {}) {
  const id = 'f-' + path.replace(/\W/g, '-');
  const error = el('small', { class: 'error', id: id + '-error' });
  const hint = opts.hint ? el('small', { class: 'hint', text: opts.hint }) : null;
  let input;
  if (type === 'select') {
    input = el('select', { id, name: path }, opts.options.map(([v, t]) => el('option', { value: v, text: t })));
  } else if (type === 'checkbox') {
    input = el('input', { id, name: path, type: 'checkbox' });
  } else if (type === 'checks') {
    input = el('span', { class: 'checks', id, role: 'group' },
      opts.options.map(([v, t]) => el('label', {}, el('input', { type: 'checkbox', value: v }), t)));
  } else if (type === 'match') {
    input = el('span', { class: 'match', id },
      el('select', { 'aria-label': `${label}: sku or category` },
        el('option', { value: 'category', text: 'category' }), el('option', { value: 'sku', text: 'sku' })),
      el('input', { type: 'text', list: 'catalog-names', 'aria-label': label }));
  } else if (type === 'matches') {
    input = el('textarea', { id, name: path, rows: 3, placeholder: 'category: pizza\ncategory: drinks\nsku: LAVA-CAKE' });
  } else {
    const html = { datetime: 'datetime-local', time: 'time', date: 'date' }[type] || 'text';
    // A phone's number pad has no minus sign: a field that takes one gets the full keyboard.
    const mode = { int: opts.min < 0 ? null : 'numeric', money: 'decimal' }[type];
    input = el('input', { id, name: path, type: html, inputmode: mode, list: opts.list, placeholder: opts.placeholder });
  }
  const row = el('label', { class: `field field-${type}`, for: id, 'data-field': path },
    el('span', { class: 'label', text: label + (opts.required ? ' *' : '') }), input, hint, error);
  const f = { path, type, opts, row, input, error, read: () => readField(f), write: (v) => writeField(f, v) };
  return f;
}

function readField(f) {
  const { type, input, opts } = f;
  if (type === 'checkbox') return { value: input.checked };
  if (type === 'checks') {
    const values = [...input.querySelectorAll('input:checked')].map((box) => box.value);
    // Ticked boxes keep the order they were filled in, so an untouched list saves unchanged.
    const order = f.order || [];
    const rank = (v) => (order.includes(v.toUpperCase()) ? order.indexOf(v.toUpperCase()) : order.length);
    values.sort((a, b) => rank(a) - rank(b));
    return { value: values.length ? values.map((v) => (opts.numbers ? Number(v) : v)) : null };
  }
  if (type === 'match') {
    const [kind, text] = input.children;
    const value = text.value.trim();
    if (!value) return opts.required ? { error: 'required' } : { value: null };
    return { value: { [kind.value]: value } };
  }
  const text = input.value.trim();
  if (!text) return opts.required ? { error: 'required' } : { value: null };
  let result = { value: text };
  if (type === 'int') result = parseInteger(text);
  if (type === 'money') result = parseMoney(text);
  if (type === 'list') result = { value: text.split(',').map((s) => s.trim()).filter(Boolean) };
  // An instant left as it was filled in reads back exactly, seconds and offset included.
  if (type === 'datetime' && f.written && f.written.text === text) return { value: f.written.value };
  if (type === 'time' && opts.endOfDay && text === '00:00') return { value: '24:00' };
  if (type === 'datetime') {
    const instant = new Date(text);
    result = Number.isNaN(instant.getTime()) ? { error: 'a date and time' } : { value: instant.toISOString() };
  }
  if (type === 'matches') result = parseMatches(text);
  if (result.error) return result;
  const { min, max } = opts;
  if (min !== undefined && result.value < min) return { error: `at least ${type === 'money' ? moneyInput(min) : min}` };
  if (max !== undefined && result.value > max) return { error: `at most ${type === 'money' ? moneyInput(max) : max}` };
  return result;
}

function parseMatches(text) {
  const items = [];
  for (const line of text.split('\n').map((s) => s.trim()).filter(Boolean)) {
    const match = /^(sku|category)\s*:\s*(\S.*)$/i.exec(line);
    if (!match) return { error: `"${line}": write "category: NAME" or "sku: SKU", one per line` };
    items.push({ [match[1].toLowerCase()]: match[2].trim() });
  }
  return items.length >= 2 ? { value: items } : { error: 'at least two items' };
}

function writeField(f, value) {
  const { type, input } = f;
  if (type === 'checkbox') input.checked = Boolean(value);
  else if (type === 'checks') {
    f.order = (value || []).map((v) => String(v).toUpperCase());
    const wanted = new Set(f.order);
    for (const box of input.querySelectorAll('input')) box.checked = wanted.has(box.value.toUpperCase());
  } else if (type === 'match') {
    const [kind, text] = input.children;
    kind.value = value && value.sku !== undefined ? 'sku' : 'category';
    text.value = value ? value.sku ?? value.category ?? '' : '';
  } else if (value === null || value === undefined) input.value = '';
  else if (type === 'money') input.value = moneyInput(value);
  else if (type === 'list') input.value = value.join(', ');
  else if (type === 'matches') input.value = value.map((m) => (m.sku ? `sku: ${m.sku}` : `category: ${m.category}`)).join('\n');
  else if (type === 'datetime') {
    const d = new Date(value);
    const local = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
    input.value = local.toISOString().slice(0, 16);
    f.written = { text: input.value, value };
  } else if (type === 'time' && f.opts.endOfDay && value === '24:00') input.value = '00:00';
  else if (type === 'select') input.value = String(value).toUpperCase();
  else input.value = String(value);
}

export function setPath(target, path, value) {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) node = node[part] = node[part] || {};
  node[parts[parts.length - 1]] = value;
}

export function getPath(source, path) {
  return path.split('.').reduce((node, part) => (node == null ? undefined : node[part]), source);
}
