// What every page of the admin shares: DOM building, the API, notices, numbers and money, and
// the page state. Every value goes into the DOM as text, never as HTML.

export const KEY_STORE = 'loyalty.adminKey';
export const state = { key: sessionStorage.getItem(KEY_STORE), program: null, tiers: [], products: null, flash: null, page: 0 };
export const main = document.getElementById('main');

// The entry module registers routing here, so the views can change page without importing it.
const app = { route: null, signOut: null };

export function connect(handlers) {
  Object.assign(app, handlers);
}

// Shows a page, and a message that outlives the change of page.
export function go(hash, message) {
  state.flash = message;
  if (location.hash === hash) app.route();
  else location.hash = hash;
}

// Pages are numbered as they open, and a view draws through the function it gets here, which
// does nothing once another page has opened: a late answer cannot paint over the next page.
export function screen() {
  const page = state.page;
  return (...nodes) => {
    if (page === state.page) main.replaceChildren(...nodes);
  };
}

// ---------------------------------------------------------------- DOM and API helpers

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  return fill(node, attrs, children);
}

export function svg(tag, attrs, ...children) {
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

export async function gql(query, variables = {}, key = state.key) {
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
    if (code === 'UNAUTHENTICATED' && key === state.key) app.signOut('Your key is no longer valid.');
    throw new ApiError(body.errors[0].message);
  }
  return body.data;
}

export function notice(text, kind = 'info') {
  const box = document.getElementById('notice');
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}

// Runs an action behind a button: disabled while it runs, errors shown instead of thrown.
export async function busy(button, action) {
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

export function randomKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return 'admin-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

// ---------------------------------------------------------------- money and numbers

export function fractionDigits() {
  const currency = state.program ? state.program.currency : 'EUR';
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
    .maximumFractionDigits;
}

export function money(minor) {
  if (minor === null || minor === undefined) return '';
  const digits = fractionDigits();
  const currency = state.program ? state.program.currency : 'EUR';
  const format = new Intl.NumberFormat(undefined, {
    style: 'currency', currency, minimumFractionDigits: digits, maximumFractionDigits: digits,
  });
  return format.format(Number(minor) / 10 ** digits);
}

export function moneyInput(minor) {
  if (minor === null || minor === undefined) return '';
  const digits = fractionDigits();
  const sign = minor < 0 ? '-' : '';
  const text = String(Math.abs(minor)).padStart(digits + 1, '0');
  return digits ? `${sign}${text.slice(0, -digits)}.${text.slice(-digits)}` : sign + text;
}

// Money is typed as "2.50" and kept as integer minor units, without a float in between.
export function parseMoney(text) {
  const digits = fractionDigits();
  const match = /^(\d+)(?:[.,](\d*))?$/.exec(text.trim());
  if (!match || (match[2] || '').length > digits) {
    return { error: digits ? `an amount like 2.50 (at most ${digits} decimals)` : 'a whole amount' };
  }
  const value = Number(match[1] + (match[2] || '').padEnd(digits, '0'));
  return Number.isSafeInteger(value) ? { value } : { error: 'too large' };
}

export function parseInteger(text) {
  if (!/^-?\d+$/.test(text.trim())) return { error: 'a whole number' };
  const value = Number(text.trim());
  return Number.isSafeInteger(value) ? { value } : { error: 'too large' };
}

export const count = (n) => Number(n).toLocaleString();
export const percent = (perMille) => (perMille === null ? '–' : `${(perMille / 10).toFixed(1)}%`);
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : '');

export function stat(label, value, id, note) {
  return el('div', { class: 'stat', id: id ? `stat-${id}` : null },
    el('span', { class: 'label', text: label }), el('strong', { text: value }), note ? el('small', { text: note }) : null);
}
