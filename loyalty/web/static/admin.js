// The admin page: rules, catalog, customers and analytics over the service's own GraphQL API.
// No framework and no third-party code: the page builds its DOM with el() and draws its charts
// as SVG, and every value goes in as text, never as HTML.
'use strict';

const KEY_STORE = 'loyalty.adminKey';
const state = { key: sessionStorage.getItem(KEY_STORE), program: null, tiers: [], products: null, flash: null };
const main = document.getElementById('main');

// ---------------------------------------------------------------- DOM and API helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  return fill(node, attrs, children);
}

function svg(tag, attrs, ...children) {
  return fill(document.createElementNS('http://www.w3.org/2000/svg', tag), attrs, children);
}

function fill(node, attrs, children) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'text') node.textContent = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

class ApiError extends Error {}

async function gql(query, variables = {}, key = state.key) {
  let response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError('The service cannot be reached. Check the connection and try again.');
  }
  if (response.status === 429) throw new ApiError('Too many requests: wait a moment and try again.');
  if (response.status === 503) throw new ApiError('The service is briefly unavailable: try again.');
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`The service answered ${response.status}.`);
  }
  if (body.errors && body.errors.length) {
    const code = body.errors[0].extensions && body.errors[0].extensions.code;
    if (code === 'UNAUTHENTICATED' && key === state.key) signOut('Your key is no longer valid.');
    throw new ApiError(body.errors[0].message);
  }
  return body.data;
}

function notice(text, kind = 'info') {
  const box = document.getElementById('notice');
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}

// Runs an action behind a button: disabled while it runs, errors shown instead of thrown.
async function busy(button, action) {
  button.disabled = true;
  try {
    return await action();
  } catch (error) {
    if (!(error instanceof ApiError)) console.error(error);
    notice(error instanceof ApiError ? error.message : 'Something went wrong on this page.', 'error');
    return undefined;
  } finally {
    button.disabled = false;
  }
}

function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return 'admin-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// ---------------------------------------------------------------- money and numbers

function fractionDigits() {
  const currency = state.program ? state.program.currency : 'EUR';
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
    .maximumFractionDigits;
}

function money(minor) {
  if (minor === null || minor === undefined) return '';
  const digits = fractionDigits();
  const currency = state.program ? state.program.currency : 'EUR';
  const format = new Intl.NumberFormat(undefined, {
    style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits,
  });
  return format.format(Number(minor) / 10 ** digits);
}

function moneyInput(minor) {
  if (minor === null || minor === undefined) return '';
  const digits = fractionDigits();
  const sign = minor < 0 ? '-' : '';
  const text = String(Math.abs(minor)).padStart(digits + 1, '0');
  return digits ? `${sign}${text.slice(0, -digits)}.${text.slice(-digits)}` : sign + text;
}

// Money is typed as "2.50" and kept as integer minor units, without a float in between.
function parseMoney(text) {
  const digits = fractionDigits();
  const match = /^(\d+)(?:[.,](\d*))?$/.exec(text.trim());
  if (!match || (match[2] || '').length > digits) {
    return { error: digits ? `an amount like 2.50 (at most ${digits} decimals)` : 'a whole amount' };
  }
  const value = Number(match[1] + (match[2] || '').padEnd(digits, '0'));
  return Number.isSafeInteger(value) ? { value } : { error: 'too large' };
}

function parseInteger(text) {
  if (!/^-?\d+$/.test(text.trim())) return { error: 'a whole number' };
  const value = Number(text.trim());
  return Number.isSafeInteger(value) ? { value } : { error: 'too large' };
}

const count = (n) => Number(n).toLocaleString();
const percent = (perMille) => (perMille === null ? '–' : `${(perMille / 10).toFixed(1)}%`);
const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');

// ---------------------------------------------------------------- form fields

// A field reads its input as { value } or { error }; an empty optional field reads as null.
function field(path, label, type, opts = {}) {
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
    const mode = { int: 'numeric', money: 'decimal' }[type];
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
    const wanted = new Set((value || []).map((v) => String(v).toUpperCase()));
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
  } else if (type === 'select') input.value = String(value).toUpperCase();
  else input.value = String(value);
}

function setPath(target, path, value) {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) node = node[part] = node[part] || {};
  node[parts[parts.length - 1]] = value;
}

function getPath(source, path) {
  return path.split('.').reduce((node, part) => (node == null ? undefined : node[part]), source);
}

// ---------------------------------------------------------------- sign in and routing

function signOut(message) {
  sessionStorage.removeItem(KEY_STORE);
  state.key = null;
  state.products = null;
  document.getElementById('nav').hidden = true;
  if (location.hash) history.replaceState(null, '', location.pathname);
  showSignIn();
  notice(message || '', message ? 'error' : 'info');
}

function showSignIn() {
  const key = el('input', { id: 'admin-key', type: 'password', autocomplete: 'off', required: true, placeholder: 'lk_...' });
  const button = el('button', { type: 'submit', text: 'Sign in' });
  const form = el('form', { class: 'card narrow', id: 'sign-in' },
    el('h1', { text: 'Sign in' }),
    el('label', { class: 'field', for: 'admin-key' }, el('span', { class: 'label', text: 'Admin API key' }), key,
      el('small', { class: 'hint', text: 'Made with "python -m loyalty apikey create --role admin". It stays in this tab only.' })),
    button);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(button, async () => {
      const data = await gql('{ program { name currency timezone } auditLog(first: 1) { edges { cursor } } }', {}, key.value.trim());
      sessionStorage.setItem(KEY_STORE, key.value.trim());
      state.key = key.value.trim();
      await start(data.program);
    });
  });
  main.replaceChildren(form);
  key.focus();
}

async function start(program) {
  state.program = program || { name: 'Loyalty', currency: 'EUR', timezone: 'UTC' };
  document.getElementById('program').textContent = `${state.program.name} · admin`;
  document.getElementById('nav').hidden = false;
  notice('');
  if (!location.hash || location.hash === '#') location.hash = '#/rules';
  else route();
}

// Shows a page, and a message that outlives the change of page.
function go(hash, message) {
  state.flash = message;
  if (location.hash === hash) route();
  else location.hash = hash;
}

const VIEWS = { rules: showRules, catalog: showCatalog, customers: showCustomers, analytics: showAnalytics };

function route() {
  if (!state.key) return showSignIn();
  const [tab, ...rest] = location.hash.replace(/^#\/?/, '').split('/');
  const view = VIEWS[tab] ? tab : 'rules';
  for (const link of document.querySelectorAll('#nav a')) {
    link.classList.toggle('active', link.dataset.tab === view);
  }
  notice(state.flash || '', 'ok');
  state.flash = null;
  main.replaceChildren(el('p', { class: 'loading', text: 'Loading…' }));
  VIEWS[view](rest.map(decodeURIComponent).join('/')).catch((error) => {
    main.replaceChildren(el('p', { class: 'error', text: error.message }));
  });
}

async function catalog() {
  if (state.products) return state.products;
  const products = [];
  let after = null;
  // Enough for any menu; a larger catalog still works, its datalists just stop here.
  while (products.length < 5000) {
    const data = await gql('query($after: String) { products(first: 100, after: $after) { sku name category family sizeRank price } }', { after });
    products.push(...data.products);
    if (data.products.length < 100) break;
    after = data.products[data.products.length - 1].sku;
  }
  state.products = products;
  return products;
}

function catalogLists(products) {
  const names = new Set();
  for (const p of products) names.add(p.category), p.family && names.add(p.family);
  return [
    el('datalist', { id: 'catalog-skus' }, products.map((p) => el('option', { value: p.sku, text: p.name }))),
    el('datalist', { id: 'catalog-names' }, [...names, ...products.map((p) => p.sku)].map((n) => el('option', { value: n }))),
    el('datalist', { id: 'catalog-categories' }, [...new Set(products.map((p) => p.category))].map((n) => el('option', { value: n }))),
    el('datalist', { id: 'catalog-families' }, [...new Set(products.map((p) => p.family).filter(Boolean))].map((n) => el('option', { value: n }))),
  ];
}

// ---------------------------------------------------------------- rules

const KIND_NAMES = {
  BASE_EARN: 'Base earn', UPSIZE: 'Upsize', ADD_ON: 'Add-on', SPEND_THRESHOLD: 'Spend threshold',
  BUNDLE: 'Bundle', PRODUCT_BONUS: 'Product bonus',
};
const NUDGING = new Set(['UPSIZE', 'ADD_ON', 'SPEND_THRESHOLD', 'BUNDLE']);
const RULE_FIELDS = 'id version kind name status priority exclusive message spec createdAt updatedAt';

async function showRules(id) {
  if (id) return showRuleEditor(id === 'new' ? null : id);
  const archived = el('input', { type: 'checkbox', id: 'show-archived' });
  const list = el('div', { class: 'scroll' });
  const load = async () => {
    const data = await gql(`query($a: Boolean!) { rules(includeArchived: $a) { ${RULE_FIELDS} } }`, { a: archived.checked });
    list.replaceChildren(rulesTable(data.rules));
  };
  archived.addEventListener('change', () => load().catch((e) => notice(e.message, 'error')));
  main.replaceChildren(el('section', {},
    el('div', { class: 'heading' }, el('h1', { text: 'Rules' }),
      el('a', { class: 'button', href: '#/rules/new', id: 'new-rule', text: 'New rule' })),
    el('label', { class: 'inline' }, archived, ' Show archived rules'),
    list));
  await load();
}

function rulesTable(rules) {
  if (!rules.length) return el('p', { text: 'No rules yet. Start with a base earn rule: points per amount spent.' });
  return el('table', { id: 'rules-table' },
    el('thead', {}, el('tr', {}, ['Name', 'Kind', 'Status', 'Schedule', 'Priority', 'Version', 'Updated'].map((h) => el('th', { text: h })))),
    el('tbody', {}, rules.map((r) => el('tr', { 'data-rule-id': r.id, class: r.status },
      el('td', {}, el('a', { href: `#/rules/${r.id}`, text: r.name })),
      el('td', { text: KIND_NAMES[r.kind] || r.kind }),
      el('td', { text: r.status }),
      el('td', { text: schedule(r.spec.conditions || {}) }),
      el('td', { class: 'num', text: r.priority + (r.exclusive ? ' (exclusive)' : '') }),
      el('td', { class: 'num', text: r.version }),
      el('td', { text: when(r.updatedAt) })))));
}

function schedule(c) {
  const parts = [];
  if (c.validFrom || c.validTo) {
    parts.push(`${c.validFrom ? new Date(c.validFrom).toLocaleDateString() : '…'} – ${c.validTo ? new Date(c.validTo).toLocaleDateString() : '…'}`);
  }
  if (c.daysOfWeek) parts.push(c.daysOfWeek.map((d) => DAYS[d - 1][1]).join(' '));
  if (c.timeFrom || c.timeTo) parts.push(`${c.timeFrom || '00:00'}–${c.timeTo || '24:00'}`);
  return parts.join(', ') || 'always';
}

const DAYS = [[1, 'Mon'], [2, 'Tue'], [3, 'Wed'], [4, 'Thu'], [5, 'Fri'], [6, 'Sat'], [7, 'Sun']];

// The form's fields by section; each section names the kinds it applies to (all when absent).
function ruleSections() {
  const tiers = state.tiers.map((t) => [t.name, t.name]);
  const points = (path, label, required = true) => field(path, label, 'int', { min: 1, max: 1000000, required });
  return [
    { title: 'Rule', fields: [
      field('kind', 'Kind', 'select', { options: Object.entries(KIND_NAMES), required: true }),
      field('name', 'Name', 'text', { required: true, placeholder: 'Go large: 20 bonus points a pizza' }),
      field('priority', 'Priority', 'int', { min: -1000, max: 1000, hint: 'Higher wins a tie between exclusive rules' }),
      field('exclusive', 'Exclusive (only the most valuable exclusive rule pays)', 'checkbox'),
      field('message', 'Nudge message', 'text', { hint: 'Placeholders: {product} {extra} {points} {gap}', placeholder: 'Make it a {product} for +{extra} and earn {points} bonus points' }),
    ] },
    { title: 'Base earn', kinds: ['BASE_EARN'], fields: [
      field('baseEarn.mode', 'Earn', 'select', { options: [['PER_UNIT', 'points per amount spent'], ['PER_ORDER', 'points per order']], required: true }),
      points('baseEarn.points', 'Points'),
      field('baseEarn.unit', 'Per amount spent', 'money', { min: 1, hint: 'Empty means 1.00' }),
      field('baseEarn.minSubtotal', 'Minimum order', 'money', { min: 0 }),
    ] },
    { title: 'Upsize', kinds: ['UPSIZE'], fields: [
      field('upsize.category', 'Category', 'text', { list: 'catalog-categories', hint: 'or a family below' }),
      field('upsize.family', 'Family', 'text', { list: 'catalog-families' }),
      field('upsize.minSizeRank', 'From size rank', 'int', { min: 1, max: 100, required: true, hint: '1 small, 2 medium, 3 large, 4 extra large' }),
      points('upsize.points', 'Bonus points per unit'),
    ] },
    { title: 'Add-on', kinds: ['ADD_ON'], fields: [
      field('addOn.trigger', 'When the cart has', 'match', { required: true }),
      field('addOn.addOn', 'Add-on', 'match', { required: true }),
      points('addOn.points', 'Bonus points'),
    ] },
    { title: 'Spend threshold', kinds: ['SPEND_THRESHOLD'], fields: [
      field('spendThreshold.threshold', 'Subtotal from', 'money', { min: 1, required: true }),
      points('spendThreshold.points', 'Bonus points', false),
      field('spendThreshold.multiplierPercent', 'or base points times (%)', 'int', { min: 101, max: 1000, hint: '200 doubles' }),
    ] },
    { title: 'Bundle', kinds: ['BUNDLE'], fields: [
      field('bundle.items', 'Items of the set, one per line', 'matches', { required: true }),
      points('bundle.points', 'Bonus points per set'),
    ] },
    { title: 'Product bonus', kinds: ['PRODUCT_BONUS'], fields: [
      field('productBonus.target', 'Product', 'match', { required: true }),
      points('productBonus.points', 'Bonus points per unit', false),
      field('productBonus.multiplierPercent', 'or base points times (%)', 'int', { min: 101, max: 1000 }),
    ] },
    { title: 'When it applies', fields: [
      field('conditions.validFrom', 'From (your local time)', 'datetime'),
      field('conditions.validTo', 'Until (not included)', 'datetime'),
      field('conditions.daysOfWeek', `Days (${state.program.timezone})`, 'checks', { options: DAYS, numbers: true }),
      field('conditions.timeFrom', 'From hour', 'time'),
      field('conditions.timeTo', 'Until hour (not included)', 'time'),
      field('conditions.channels', 'Channels', 'checks', { options: [['POS', 'till'], ['APP', 'app'], ['WEB', 'web']] }),
      field('conditions.stores', 'Stores', 'list', { placeholder: 'S1, S2', hint: 'Empty means every store' }),
      tiers.length ? field('conditions.tiers', 'Tiers', 'checks', { options: tiers }) : null,
      field('conditions.excludedSegments', 'Not for customers who', 'checks', { options: [['discount_only', 'only buy on discount'], ['mostly_returns', 'mostly return']] }),
    ].filter(Boolean) },
    { title: 'Limits', fields: [
      field('caps.period', 'Per customer', 'select', { options: [['', 'no limit'], ['DAY', 'per day'], ['WEEK', 'per week'], ['MONTH', 'per month']] }),
      field('caps.maxAwards', 'Times per period', 'int', { min: 1 }),
      field('caps.maxPoints', 'Points per period', 'int', { min: 1 }),
      field('caps.budget', 'Budget: points in all, to everyone', 'int', { min: 1 }),
    ] },
    { title: 'Thank-you rebate code', kinds: [...NUDGING], fields: [
      field('rebate.amountOff', 'Amount off', 'money', { min: 1 }),
      field('rebate.percentOff', 'or percent off', 'int', { min: 1, max: 100 }),
      field('rebate.minSpend', 'Minimum spend', 'money', { min: 0 }),
      field('rebate.daysValid', 'Days valid', 'int', { min: 1, max: 365 }),
    ] },
  ];
}

// The rule input the form describes, or the errors that stop it, by field path.
function collectRule(sections) {
  const kind = sections[0].fields[0].input.value;
  const input = {};
  const errors = {};
  for (const section of sections) {
    if (section.kinds && !section.kinds.includes(kind)) continue;
    for (const f of section.fields) {
      const { value, error } = f.read();
      if (error) errors[f.path] = error;
      else if (value !== null && value !== false) setPath(input, f.path, value);
    }
  }
  const either = (a, b, what) => {
    const [x, y] = [getPath(input, a), getPath(input, b)];
    if (x === undefined && y === undefined && !errors[a] && !errors[b]) errors[a] = `give ${what}`;
    if (x !== undefined && y !== undefined) errors[b] = `give one of the two, not both`;
  };
  if (kind === 'SPEND_THRESHOLD') either('spendThreshold.points', 'spendThreshold.multiplierPercent', 'bonus points or a multiplier');
  if (kind === 'PRODUCT_BONUS') either('productBonus.points', 'productBonus.multiplierPercent', 'bonus points or a multiplier');
  if (kind === 'UPSIZE' && !input.upsize?.category && !input.upsize?.family && !errors['upsize.category']) {
    errors['upsize.category'] = 'give a category or a family';
  }
  if (input.rebate?.amountOff !== undefined && input.rebate?.percentOff !== undefined) errors['rebate.percentOff'] = 'amount off or percent off, not both';
  if (input.rebate && input.rebate.amountOff === undefined && input.rebate.percentOff === undefined) errors['rebate.amountOff'] = 'give an amount or a percent off';
  const c = input.conditions || {};
  if (c.validFrom && c.validTo && c.validFrom >= c.validTo) errors['conditions.validTo'] = 'must be after the start';
  const caps = input.caps || {};
  if ((caps.maxAwards || caps.maxPoints) && !caps.period) errors['caps.period'] = 'choose the period the limit counts';
  if (kind === 'BASE_EARN') delete input.exclusive;
  if (input.name && input.name.length > 120) errors.name = 'at most 120 characters';
  return { input, errors };
}

function fillRule(sections, rule) {
  const flat = { kind: rule.kind, name: rule.name, priority: rule.priority, exclusive: rule.exclusive, message: rule.message, ...rule.spec };
  for (const section of sections) for (const f of section.fields) {
    const value = getPath(flat, f.path);
    if (value !== undefined) f.write(value);
  }
}

async function showRuleEditor(id) {
  const [products, extra] = await Promise.all([
    catalog(),
    gql(`query($id: ID!, $has: Boolean!) { tiers { name } rule(id: $id) @include(if: $has) { ${RULE_FIELDS} } }`, { id: id || '0', has: Boolean(id) }),
  ]);
  state.tiers = extra.tiers;
  const rule = extra.rule || null;
  if (id && !rule) {
    main.replaceChildren(el('p', { class: 'error', text: `No rule ${id}.` }), el('a', { href: '#/rules', text: 'Back to the rules' }));
    return;
  }
  const sections = ruleSections();
  const fieldsets = sections.map((s) => el('fieldset', { 'data-kinds': s.kinds ? s.kinds.join(' ') : null },
    el('legend', { text: s.title }), s.fields.map((f) => f.row)));
  const save = el('button', { type: 'submit', id: 'save-rule', text: rule ? 'Save as a new version' : 'Create rule' });
  const archive = rule && rule.status !== 'archived' ? el('button', { type: 'button', class: 'danger', id: 'archive-rule', text: 'Archive' }) : null;
  const summary = el('p', { class: 'form-errors', role: 'alert' });
  const form = el('form', { id: 'rule-form', novalidate: true }, fieldsets, summary,
    el('div', { class: 'actions' }, save, archive, el('a', { href: '#/rules', text: 'Cancel' })));
  const simulator = simulatorPanel(products, () => collectRule(sections));

  const check = () => {
    const kind = sections[0].fields[0].input.value;
    for (const set of fieldsets) set.hidden = Boolean(set.dataset.kinds) && !set.dataset.kinds.split(' ').includes(kind);
    const { errors } = collectRule(sections);
    for (const section of sections) for (const f of section.fields) {
      const shown = f.touched ? errors[f.path] || '' : '';
      f.error.textContent = shown;
      f.row.classList.toggle('invalid', Boolean(shown));
    }
    const count = Object.keys(errors).length;
    summary.textContent = count && sections.some((s) => s.fields.some((f) => f.touched)) ? `${count} field${count > 1 ? 's' : ''} to fix before saving.` : '';
    return errors;
  };
  // Validated as the admin types; a field shows its error once it has been touched.
  form.addEventListener('input', (event) => {
    const row = event.target.closest('[data-field]');
    for (const section of sections) for (const f of section.fields) if (f.row === row) f.touched = true;
    check();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    for (const section of sections) for (const f of section.fields) f.touched = true;
    if (Object.keys(check()).length) return;
    busy(save, async () => {
      const { input } = collectRule(sections);
      const mutation = rule
        ? `mutation($id: ID!, $input: RuleInput!) { result: updateRule(id: $id, input: $input) { ${RULE_RESULT} } }`
        : `mutation($input: RuleInput!) { result: createRule(input: $input) { ${RULE_RESULT} } }`;
      const data = await gql(mutation, { id: rule?.id, input });
      if (showServerError(data.result, sections, summary)) return;
      go(`#/rules/${data.result.rule.id}`, `Saved "${data.result.rule.name}", version ${data.result.rule.version}.`);
    });
  });
  if (archive) {
    archive.addEventListener('click', () => {
      if (!confirm(`Archive "${rule.name}"? It stops paying at once and cannot be brought back.`)) return;
      busy(archive, async () => {
        const data = await gql(`mutation($id: ID!) { result: archiveRule(id: $id) { ${RULE_RESULT} } }`, { id: rule.id });
        if (showServerError(data.result, sections, summary)) return;
        go('#/rules', `Archived "${rule.name}".`);
      });
    });
  }
  if (rule) fillRule(sections, rule);
  else sections[0].fields[0].write('UPSIZE');
  main.replaceChildren(...catalogLists(products), el('div', { class: 'heading' },
    el('h1', { text: rule ? `${rule.name}` : 'New rule' }),
    rule ? el('span', { class: 'muted', text: `version ${rule.version} · ${rule.status}` }) : null),
  el('div', { class: 'editor' }, form, simulator));
  check();
}

const RULE_RESULT = `__typename ... on RuleSaved { rule { id name version status } }
  ... on InvalidInputError { code message field } ... on RuleNotFoundError { code message }`;

function showServerError(result, sections, summary) {
  if (result.__typename === 'RuleSaved') return false;
  const path = (result.field || '').replace(/^rules?\.\d+\.|^input\./, '');
  const target = sections.flatMap((s) => s.fields).find((f) => path && (f.path === path || path.endsWith(`.${f.path}`) || f.path.endsWith(`.${path}`)));
  if (target) {
    target.error.textContent = result.message;
    target.row.classList.add('invalid');
  }
  summary.textContent = result.message;
  return true;
}

// A cart to try the rule on before saving: what it earns today, and with this version of the rule.
function simulatorPanel(products, collect) {
  const bySku = new Map(products.map((p) => [p.sku, p]));
  const lines = el('div', { class: 'lines' });
  const store = el('input', { type: 'text', value: 'S1', 'aria-label': 'Store', id: 'sim-store' });
  const channel = el('select', { 'aria-label': 'Channel', id: 'sim-channel' }, ['POS', 'APP', 'WEB'].map((c) => el('option', { value: c, text: c })));
  const customer = el('input', { type: 'text', placeholder: 'optional', id: 'sim-customer', 'aria-label': 'Customer id' });
  const only = el('input', { type: 'checkbox', id: 'sim-only' });
  const result = el('div', { class: 'sim-result', id: 'sim-result', 'aria-live': 'polite' });
  const addLine = (sku = '', quantity = 1) => {
    const skuInput = el('input', { type: 'text', list: 'catalog-skus', value: sku, 'aria-label': 'sku', class: 'sku' });
    const qty = el('input', { type: 'text', inputmode: 'numeric', value: quantity, 'aria-label': 'quantity', class: 'qty' });
    const price = el('input', { type: 'text', inputmode: 'decimal', 'aria-label': 'unit price', class: 'price' });
    const setPrice = () => { const p = bySku.get(skuInput.value.trim()); if (p) price.value = moneyInput(p.price); };
    skuInput.addEventListener('change', setPrice);
    setPrice();
    const row = el('div', { class: 'line' }, skuInput, qty, price,
      el('button', { type: 'button', class: 'link', text: 'remove', onclick: () => row.remove() }));
    lines.append(row);
  };
  const first = products.find((p) => p.family && p.sizeRank && p.sizeRank > 1) || products[0];
  addLine(first ? first.sku : '');
  const run = el('button', { type: 'button', id: 'simulate', text: 'Simulate' });
  run.addEventListener('click', () => busy(run, async () => {
    const { input, errors } = collect();
    if (Object.keys(errors).length) {
      result.replaceChildren(el('p', { class: 'error', text: 'Fix the rule first: ' + Object.entries(errors).map(([k, v]) => `${k} ${v}`).join('; ') }));
      return;
    }
    const cartLines = [];
    for (const row of lines.children) {
      const [sku, qty, price] = row.querySelectorAll('input');
      if (!sku.value.trim()) continue;
      const q = parseInteger(qty.value);
      const p = parseMoney(price.value);
      if (q.error || q.value < 1 || p.error) {
        result.replaceChildren(el('p', { class: 'error', text: `Line ${sku.value}: quantity is a whole number from 1, price an amount like 2.50.` }));
        return;
      }
      cartLines.push({ sku: sku.value.trim(), quantity: q.value, unitPrice: p.value });
    }
    if (!cartLines.length) {
      result.replaceChildren(el('p', { class: 'error', text: 'Add a line to the cart.' }));
      return;
    }
    const cart = { storeId: store.value.trim() || 'S1', channel: channel.value, lines: cartLines, customerId: customer.value.trim() || null };
    const data = await gql(`query($cart: CartInput!) { quote(cart: $cart) { ${QUOTE} } }`, { cart });
    const sim = await gql(`mutation($cart: CartInput!, $rules: [RuleInput!]!, $only: Boolean!) {
      simulate(cart: $cart, rules: $rules, replaceActive: $only) { ${QUOTE} } }`, { cart, rules: [input], only: only.checked });
    result.replaceChildren(simulation(data.quote, sim.simulate));
  }));
  return el('aside', { class: 'card simulator', id: 'simulator' },
    el('h2', { text: 'Simulate on a cart' }),
    el('p', { class: 'hint', text: 'Nothing is saved: the cart is priced with this rule as the form has it now.' }),
    lines,
    el('button', { type: 'button', class: 'link', text: '+ line', onclick: () => addLine() }),
    el('div', { class: 'grid' },
      el('label', { class: 'field' }, el('span', { class: 'label', text: 'Store' }), store),
      el('label', { class: 'field' }, el('span', { class: 'label', text: 'Channel' }), channel),
      el('label', { class: 'field' }, el('span', { class: 'label', text: 'Customer' }), customer)),
    el('label', { class: 'inline' }, only, ' This rule alone (leave the active rules out)'),
    run, result);
}

const QUOTE = `__typename ... on InvalidInputError { message field }
  ... on Quote { pointsEarned subtotal unknownSkus awards { ruleId ruleName kind points } reasons { ruleId ruleName code message } }`;

function simulation(today, withRule) {
  if (withRule.__typename !== 'Quote') return el('p', { class: 'error', text: withRule.message });
  if (today.__typename !== 'Quote') return el('p', { class: 'error', text: today.message });
  const draft = withRule.awards.filter((a) => Number(a.ruleId) < 0);
  const why = withRule.reasons.filter((r) => Number(r.ruleId) < 0);
  const gain = Number(withRule.pointsEarned) - Number(today.pointsEarned);
  return el('div', {},
    el('p', { class: 'big' },
      el('strong', { id: 'sim-points', text: `${count(withRule.pointsEarned)} points` }),
      ` with this rule, ${count(today.pointsEarned)} today (${gain >= 0 ? '+' : ''}${count(gain)}), on ${money(withRule.subtotal)}.`),
    draft.length
      ? el('p', { class: 'ok', id: 'sim-pays', text: `This rule pays ${count(draft.reduce((s, a) => s + Number(a.points), 0))} points.` })
      : el('p', { class: 'warn', id: 'sim-pays', text: 'This rule does not pay on this cart' + (why.length ? `: ${why.map((r) => r.message).join('; ')}` : '.') }),
    withRule.unknownSkus.length ? el('p', { class: 'warn', text: `Not in the catalog: ${withRule.unknownSkus.join(', ')}` }) : null,
    el('table', { class: 'compact' }, el('tbody', {}, withRule.awards.map((a) =>
      el('tr', {}, el('td', { text: Number(a.ruleId) < 0 ? `${a.ruleName} (this rule)` : a.ruleName }), el('td', { class: 'num', text: count(a.points) }))))));
}

// ---------------------------------------------------------------- catalog

async function showCatalog() {
  const products = await catalog();
  const categories = [...new Set(products.map((p) => p.category))].sort();
  const filter = el('select', { id: 'category-filter', 'aria-label': 'Category' },
    el('option', { value: '', text: 'All categories' }), categories.map((c) => el('option', { value: c, text: c })));
  const search = el('input', { type: 'search', placeholder: 'Find by sku or name', id: 'product-search', 'aria-label': 'Find' });
  const list = el('div', { class: 'scroll' });
  const editor = productEditor(products);
  const render = () => {
    const q = search.value.trim().toLowerCase();
    const shown = products.filter((p) => (!filter.value || p.category === filter.value) &&
      (!q || p.sku.toLowerCase().includes(q) || p.name.toLowerCase().includes(q)));
    list.replaceChildren(el('table', { id: 'products-table' },
      el('thead', {}, el('tr', {}, ['Sku', 'Name', 'Category', 'Family', 'Size', 'Price', ''].map((h) => el('th', { text: h })))),
      el('tbody', {}, shown.slice(0, 300).map((p) => el('tr', { 'data-sku': p.sku },
        el('td', { text: p.sku }), el('td', { text: p.name }), el('td', { text: p.category }),
        el('td', { text: p.family || '' }), el('td', { class: 'num', text: p.sizeRank ?? '' }),
        el('td', { class: 'num', text: money(p.price) }),
        el('td', {}, el('button', { type: 'button', class: 'link', text: 'Edit', onclick: () => editor.edit(p) })))))),
    shown.length > 300 ? el('p', { class: 'hint', text: `Showing 300 of ${shown.length}: narrow the search.` }) : null);
  };
  filter.addEventListener('change', render);
  search.addEventListener('input', render);
  main.replaceChildren(el('section', {},
    el('div', { class: 'heading' }, el('h1', { text: 'Catalog' }), el('span', { class: 'muted', text: `${products.length} products` })),
    editor.form, el('div', { class: 'toolbar' }, filter, search), list));
  render();
}

function productEditor(products) {
  const fields = [
    field('sku', 'Sku', 'text', { required: true }),
    field('name', 'Name', 'text', { required: true }),
    field('category', 'Category', 'text', { required: true, list: 'catalog-categories' }),
    field('family', 'Family', 'text', { list: 'catalog-families', hint: 'Sizes of one product share a family' }),
    field('sizeRank', 'Size rank', 'int', { min: 1, max: 100, hint: '1 small … 4 extra large' }),
    field('price', 'Price', 'money', { min: 0, required: true }),
  ];
  const save = el('button', { type: 'submit', id: 'save-product', text: 'Save product' });
  const title = el('legend', { text: 'Add a product' });
  const form = el('form', { class: 'card', id: 'product-form', novalidate: true },
    el('fieldset', {}, title, el('div', { class: 'grid' }, fields.map((f) => f.row)), catalogLists(products)),
    el('div', { class: 'actions' }, save, el('button', { type: 'reset', class: 'link', text: 'Clear' })));
  const collect = () => {
    const product = {};
    const errors = {};
    for (const f of fields) {
      const { value, error } = f.read();
      if (error) errors[f.path] = error;
      else if (value !== null) product[f.path] = value;
    }
    if ((product.family === undefined) !== (product.sizeRank === undefined) && !errors.sizeRank) {
      errors[product.family === undefined ? 'family' : 'sizeRank'] = 'a family and a size rank go together';
    }
    return { product, errors };
  };
  const check = (all) => {
    const { errors } = collect();
    for (const f of fields) {
      const shown = all || f.touched ? errors[f.path] || '' : '';
      f.error.textContent = shown;
      f.row.classList.toggle('invalid', Boolean(shown));
    }
    return errors;
  };
  form.addEventListener('input', (event) => {
    for (const f of fields) if (f.row.contains(event.target)) f.touched = true;
    check(false);
  });
  form.addEventListener('reset', () => {
    setTimeout(() => { fields[0].input.readOnly = false; title.textContent = 'Add a product'; for (const f of fields) f.touched = false; check(false); });
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (Object.keys(check(true)).length) return;
    busy(save, async () => {
      const { product } = collect();
      const data = await gql(`mutation($p: [ProductInput!]!) { result: upsertProducts(products: $p) {
        __typename ... on ProductsUpserted { count } ... on InvalidInputError { message field } } }`, { p: [product] });
      if (data.result.__typename !== 'ProductsUpserted') {
        notice(data.result.message, 'error');
        return;
      }
      state.products = null;
      notice(`Saved ${product.sku}.`, 'ok');
      await showCatalog();
    });
  });
  return {
    form,
    edit(p) {
      for (const f of fields) f.write(p[f.path] ?? null);
      fields[0].input.readOnly = true;
      title.textContent = `Edit ${p.sku}`;
      form.scrollIntoView({ behavior: 'smooth' });
      fields[1].input.focus();
    },
  };
}

// ---------------------------------------------------------------- customers

const CUSTOMER = `id balance availablePoints pendingPoints debt lifetimePoints memberSince
  tier { tier { name multiplierPercent } qualifyingPoints progress keptThrough }
  expiring(first: 3) { points lastDay }
  rebateCodes { code state amountOff percentOff minSpend expiresAt usable unusableReason }
  ledger(first: 20, after: $after) { edges { node { id kind points balanceAfter reason ruleId createdAt purchase { transactionId storeId subtotal } } } pageInfo { hasNextPage endCursor } }`;

async function showCustomers(id) {
  const input = el('input', { type: 'search', id: 'customer-id', value: id || '', placeholder: 'member number or app user id', 'aria-label': 'Customer id', required: true });
  const go = el('button', { type: 'submit', text: 'Look up' });
  const form = el('form', { class: 'toolbar', id: 'customer-search' }, input, go);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (input.value.trim()) location.hash = `#/customers/${encodeURIComponent(input.value.trim())}`;
  });
  const body = el('div', { id: 'customer' });
  main.replaceChildren(el('section', {}, el('h1', { text: 'Customers' }), form, body));
  if (!id) {
    input.focus();
    return;
  }
  const data = await gql(`query($id: String!, $after: String) { customer(id: $id) { ${CUSTOMER} } }`, { id, after: null });
  if (!data.customer) {
    body.replaceChildren(el('p', { class: 'warn', text: `No customer "${id}" yet: a customer appears with their first purchase or adjustment.` }), adjustForm(id));
    return;
  }
  body.replaceChildren(customerCard(data.customer), adjustForm(id), ledgerTable(id, data.customer.ledger), codesTable(data.customer.rebateCodes));
}

function customerCard(c) {
  const tier = c.tier && c.tier.tier ? `${c.tier.tier.name} (×${c.tier.tier.multiplierPercent / 100})` : 'no tier';
  return el('div', { class: 'cards' },
    stat('Balance', count(c.balance), 'balance'),
    stat('Available now', count(c.availablePoints), 'available'),
    stat('Pending', count(c.pendingPoints)),
    Number(c.debt) ? stat('Debt', count(c.debt)) : null,
    stat('Tier', tier, 'tier', c.tier ? c.tier.progress : ''),
    stat('Expiring next', c.expiring.length ? `${count(c.expiring[0].points)} on ${c.expiring[0].lastDay}` : 'nothing'),
    stat('Lifetime points', count(c.lifetimePoints), null, c.memberSince ? `member since ${new Date(c.memberSince).toLocaleDateString()}` : ''));
}

function stat(label, value, id, note) {
  return el('div', { class: 'stat', id: id ? `stat-${id}` : null },
    el('span', { class: 'label', text: label }), el('strong', { text: value }), note ? el('small', { text: note }) : null);
}

function ledgerTable(id, ledger) {
  const body = el('tbody');
  const more = el('button', { type: 'button', class: 'link', text: 'Older entries' });
  const add = (page) => {
    for (const { node: e } of page.edges) {
      body.append(el('tr', { 'data-kind': e.kind },
        el('td', { text: when(e.createdAt) }), el('td', { text: e.kind.toLowerCase() }),
        el('td', { class: 'num', text: (Number(e.points) > 0 ? '+' : '') + count(e.points) }),
        el('td', { class: 'num', text: count(e.balanceAfter) }),
        el('td', { text: e.reason + (e.purchase ? ` · ${e.purchase.storeId} ${e.purchase.transactionId} ${money(e.purchase.subtotal)}` : '') })));
    }
    more.hidden = !page.pageInfo.hasNextPage;
    more.onclick = () => busy(more, async () => {
      const data = await gql(`query($id: String!, $after: String) { customer(id: $id) { ledger(first: 20, after: $after) { edges { node { id kind points balanceAfter reason ruleId createdAt purchase { transactionId storeId subtotal } } } pageInfo { hasNextPage endCursor } } } }`,
        { id, after: page.pageInfo.endCursor });
      add(data.customer.ledger);
    });
  };
  add(ledger);
  return el('section', {}, el('h2', { text: 'Ledger' }),
    el('div', { class: 'scroll' }, el('table', { id: 'ledger-table' },
      el('thead', {}, el('tr', {}, ['When', 'Kind', 'Points', 'Balance', 'Why'].map((h) => el('th', { text: h })))), body)), more);
}

function codesTable(codes) {
  if (!codes.length) return el('section', {}, el('h2', { text: 'Rebate codes' }), el('p', { class: 'muted', text: 'None.' }));
  return el('section', {}, el('h2', { text: 'Rebate codes' }), el('div', { class: 'scroll' }, el('table', { id: 'codes-table' },
    el('thead', {}, el('tr', {}, ['Code', 'State', 'Off', 'Minimum', 'Expires', ''].map((h) => el('th', { text: h })))),
    el('tbody', {}, codes.map((c) => el('tr', {},
      el('td', { class: 'code', text: c.code }), el('td', { text: c.state.toLowerCase() }),
      el('td', { text: c.amountOff !== null ? money(c.amountOff) : `${c.percentOff}%` }),
      el('td', { text: money(c.minSpend) }), el('td', { text: when(c.expiresAt) }),
      el('td', { class: 'muted', text: c.usable ? 'usable' : c.unusableReason || '' })))))));
}

function adjustForm(customerId) {
  const points = field('points', 'Points (negative to take away)', 'int', { required: true, min: -1000000, max: 1000000 });
  const reason = field('reason', 'Reason', 'text', { required: true, placeholder: 'Late delivery, sorry' });
  const negative = field('allowNegativeBalance', 'Allow the balance to go below zero', 'checkbox');
  const save = el('button', { type: 'submit', id: 'adjust', text: 'Adjust points' });
  const result = el('p', { id: 'adjust-result', 'aria-live': 'polite' });
  // One key per adjustment the admin means: a retry after a lost answer cannot pay twice.
  let key = randomKey();
  const form = el('form', { class: 'card', id: 'adjust-form', novalidate: true },
    el('fieldset', {}, el('legend', { text: 'Adjust points' }), el('div', { class: 'grid' }, points.row, reason.row), negative.row),
    el('div', { class: 'actions' }, save), result);
  form.addEventListener('input', () => { key = randomKey(); });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const p = points.read();
    const r = reason.read();
    points.error.textContent = p.error || (p.value === 0 ? 'not zero' : '');
    reason.error.textContent = r.error || '';
    if (p.error || r.error || p.value === 0) return;
    busy(save, async () => {
      const data = await gql(`mutation($input: AdjustPointsInput!) { result: adjustPoints(input: $input) {
        __typename ... on PointsAdjusted { balance replayed entry { points } } ... on Error { code message } } }`,
      { input: { customerId, points: p.value, reason: r.value, idempotencyKey: key, allowNegativeBalance: negative.read().value } });
      const res = data.result;
      if (res.__typename !== 'PointsAdjusted') {
        result.className = 'error';
        result.textContent = res.message;
        return;
      }
      key = randomKey();
      notice(`${Number(res.entry.points) > 0 ? 'Added' : 'Took'} ${count(Math.abs(Number(res.entry.points)))} points. Balance now ${count(res.balance)}.`, 'ok');
      await showCustomers(customerId);
    });
  });
  return form;
}

// ---------------------------------------------------------------- analytics

const ANALYTICS = `query($from: Date!, $to: Date!, $value: Int) { analytics(from: $from, to: $to, pointValueMinor: $value) {
  __typename ... on InvalidInputError { message field }
  ... on Analytics { from to timezone currency
    rules { ruleId name kind
      total { shown accepted declined acceptancePerMille revenueAdded bonusPoints rebateCodesIssued rebateCodesRedeemed rebateDiscount }
      days { day shown accepted acceptancePerMille revenueAdded bonusPoints rebateCodesIssued rebateCodesRedeemed } }
    nudgedOrders { orders revenue average } notNudgedOrders { orders revenue average }
    liability { outstandingPoints debtPoints value } tiers { tier customers outstandingPoints } } } }`;

const COLORS = 8; // c0..c7 in the style sheet

// Analytics days are the program's local days, wherever the admin happens to be.
function programDay(date) {
  return new Intl.DateTimeFormat('en-CA', { timeZone: state.program.timezone }).format(date);
}

async function showAnalytics() {
  const today = new Date();
  const from = el('input', { type: 'date', id: 'from', value: programDay(new Date(today.getTime() - 13 * 86400000)), 'aria-label': 'From' });
  const to = el('input', { type: 'date', id: 'to', value: programDay(today), 'aria-label': 'To' });
  const value = el('input', { type: 'text', inputmode: 'decimal', id: 'point-value', value: moneyInput(10 ** fractionDigits()), 'aria-label': 'Value of 100 points' });
  const go = el('button', { type: 'submit', text: 'Show' });
  const body = el('div', { id: 'analytics' });
  const form = el('form', { class: 'toolbar', id: 'analytics-form' },
    el('label', {}, 'From ', from), el('label', {}, 'to ', to), el('label', {}, '100 points are worth ', value), go);
  const load = async () => {
    const worth = parseMoney(value.value);
    if (worth.error) return notice(`Point value: ${worth.error}.`, 'error');
    const data = await gql(ANALYTICS, { from: from.value, to: to.value, value: worth.value });
    const a = data.analytics;
    if (a.__typename !== 'Analytics') return notice(a.message, 'error');
    body.replaceChildren(...analyticsView(a));
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(go, load);
  });
  main.replaceChildren(el('section', {}, el('h1', { text: 'Analytics' }), form, body));
  await load();
}

function analyticsView(a) {
  const rules = a.rules.filter((r) => r.total.shown || r.total.accepted || Number(r.total.bonusPoints));
  const days = dayRange(a.from, a.to);
  const nudged = a.nudgedOrders;
  const plain = a.notNudgedOrders;
  const sum = (key) => rules.reduce((s, r) => s + Number(r.total[key]), 0);
  const funnel = [
    ['shown', 'Nudges shown', sum('shown')],
    ['accepted', 'Accepted', sum('accepted')],
    ['issued', 'Codes issued', sum('rebateCodesIssued')],
    ['redeemed', 'Codes redeemed', sum('rebateCodesRedeemed')],
  ];
  // A day without figures is a gap in a rate and a zero in an amount.
  const series = (key, scale, missing) => rules.map((r) => {
    const byDay = new Map(r.days.map((d) => [d.day, d[key]]));
    return {
      name: r.name,
      points: days.map((day) => {
        const v = byDay.has(day) ? byDay.get(day) : missing;
        return v === null ? null : Number(v) * scale;
      }),
    };
  });
  return [
    el('div', { class: 'cards' },
      stat('Points outstanding', count(a.liability.outstandingPoints), 'outstanding', Number(a.liability.debtPoints) ? `${count(a.liability.debtPoints)} owed back` : ''),
      stat('Liability', a.liability.value === null ? '–' : money(a.liability.value), 'liability'),
      stat('Nudged orders', nudged.orders ? `${count(nudged.orders)} · avg ${money(nudged.average)}` : '0', 'nudged'),
      stat('Other orders', plain.orders ? `${count(plain.orders)} · avg ${money(plain.average)}` : '0', 'other'),
      stat('Revenue nudges added', money(sum('revenueAdded')), 'revenue-added')),
    chartCard('Acceptance rate by day', 'acceptance', lineChart('acceptance', days, series('acceptancePerMille', 0.1, null), (v) => `${v.toFixed(0)}%`, 100), rules),
    chartCard('Revenue added by accepted nudges', 'revenue', lineChart('revenue', days, series('revenueAdded', 1, 0), (v) => money(Math.round(v))), rules),
    el('div', { class: 'two' },
      el('div', { class: 'card' }, el('h2', { text: 'Funnel' }), barChart('funnel', funnel.map(([key, label, n]) => ({
        key, label, value: n, text: `${count(n)}${funnel[0][2] && key !== 'shown' ? ` · ${(100 * n / funnel[0][2]).toFixed(1)}%` : ''}`,
      })))),
      el('div', { class: 'card' }, el('h2', { text: 'Customers by tier' }), barChart('tiers', a.tiers.map((t) => ({
        key: t.tier || 'none', label: t.tier || 'No tier', value: t.customers, text: `${count(t.customers)} · ${count(t.outstandingPoints)} pts`,
      }))))),
    el('div', { class: 'card' }, el('h2', { text: 'By rule' }), !a.rules.length ? el('p', { class: 'muted', text: 'No rule showed a nudge or paid a bonus in these days.' }) : el('div', { class: 'scroll' }, el('table', { id: 'analytics-table' },
      el('thead', {}, el('tr', {}, ['Rule', 'Shown', 'Accepted', 'Declined', 'Rate', 'Revenue added', 'Bonus points', 'Codes issued', 'Redeemed'].map((h) => el('th', { text: h })))),
      el('tbody', {}, a.rules.map((r) => el('tr', { 'data-rule-id': r.ruleId },
        el('td', { text: r.name }),
        ['shown', 'accepted', 'declined'].map((k) => el('td', { class: 'num', 'data-col': k, text: count(r.total[k]) })),
        el('td', { class: 'num', text: percent(r.total.acceptancePerMille) }),
        el('td', { class: 'num', 'data-col': 'revenue', text: money(r.total.revenueAdded) }),
        el('td', { class: 'num', text: count(r.total.bonusPoints) }),
        el('td', { class: 'num', text: count(r.total.rebateCodesIssued) }),
        el('td', { class: 'num', text: count(r.total.rebateCodesRedeemed) }))))))),
    el('p', { class: 'hint', text: `Days are ${a.from} to ${a.to} in ${a.timezone}.` }),
  ];
}

function dayRange(from, to) {
  const days = [];
  for (let d = new Date(`${from}T00:00:00Z`); d <= new Date(`${to}T00:00:00Z`); d.setUTCDate(d.getUTCDate() + 1)) {
    days.push(d.toISOString().slice(0, 10));
  }
  return days;
}

function chartCard(title, id, chart, rules) {
  return el('div', { class: 'card' }, el('h2', { text: title }), chart,
    el('ul', { class: 'legend', id: `${id}-legend` }, rules.map((r, i) =>
      el('li', {}, el('span', { class: `swatch c${i % COLORS}` }), r.name))));
}

// A line per series over the days; a null point (no nudge shown that day) breaks the line.
// Drawn at the width it is shown at, so its text stays readable on a phone.
function lineChart(id, days, series, format, fixedMax) {
  const W = Math.max(300, Math.min(1100, main.clientWidth - 40)), H = 220, L = 58, R = 12, T = 12, B = 28;
  const values = series.flatMap((s) => s.points.filter((v) => v !== null));
  const max = fixedMax || niceCeiling(Math.max(0, ...values));
  const x = (i) => L + (days.length > 1 ? (i * (W - L - R)) / (days.length - 1) : (W - L - R) / 2);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', 'data-chart': id, role: 'img', 'aria-label': id });
  for (let k = 0; k <= 4; k += 1) {
    const v = (max * k) / 4;
    chart.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }),
      svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis', text: format(v) }));
  }
  const every = Math.max(1, Math.ceil(days.length / 7));
  days.forEach((day, i) => {
    const last = i === days.length - 1;
    if (i % every === 0 || last) chart.append(svg('text', { x: x(i), y: H - 8, 'text-anchor': last && i ? 'end' : 'middle', class: 'axis', text: day.slice(5) }));
  });
  if (!values.length) {
    chart.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty', text: 'No nudges shown in these days' }));
  }
  series.forEach((s, n) => {
    let path = '';
    s.points.forEach((v, i) => {
      if (v === null) return;
      path += `${path && s.points[i - 1] !== null && i > 0 ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
    });
    if (path) chart.append(svg('path', { d: path, class: `series c${n % COLORS}` }));
    s.points.forEach((v, i) => {
      if (v === null) return;
      chart.append(svg('circle', { cx: x(i), cy: y(v), r: 3.5, class: `dot c${n % COLORS}`, 'data-series': s.name, 'data-day': days[i], 'data-value': v },
        svg('title', { text: `${s.name}, ${days[i]}: ${format(v)}` })));
    });
  });
  return chart;
}

function niceCeiling(value) {
  if (value <= 0) return 4;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 2.5, 5, 10].map((step) => step * power).find((top) => top >= value);
}

function barChart(id, bars) {
  const max = Math.max(1, ...bars.map((b) => b.value));
  return el('div', { class: 'bars', 'data-chart': id }, bars.map((b) => {
    const bar = el('span', { class: 'bar' });
    bar.style.width = `${(100 * b.value) / max}%`;
    return el('div', { class: 'bar-row', 'data-key': b.key, 'data-value': b.value },
      el('span', { class: 'bar-label', text: b.label }), el('span', { class: 'bar-track' }, bar), el('span', { class: 'bar-text', text: b.text }));
  }));
}

// ---------------------------------------------------------------- start

document.getElementById('sign-out').addEventListener('click', () => signOut());
window.addEventListener('hashchange', route);
if (state.key) {
  gql('{ program { name currency timezone } auditLog(first: 1) { edges { cursor } } }')
    .then((data) => start(data.program))
    .catch((error) => signOut(error.message));
} else {
  showSignIn();
}
