// The admin page: rules, catalog, customers and analytics over the service's own GraphQL API.
// No framework and no third-party code: this entry signs the admin in and routes between the
// pages, each a module of its own.
import { KEY_STORE, busy, connect, el, gql, main, notice, screen, state } from './core.js';
import { showRules } from './rules.js';
import { showCatalog } from './catalog.js';
import { showCustomers } from './customers.js';
import { showAnalytics } from './analytics.js';

function signOut(message) {
  sessionStorage.removeItem(KEY_STORE);
  state.key = null;
  state.products = null;
  state.page += 1;
  document.getElementById('program').textContent = 'Loyalty admin';
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
  state.page += 1;
  window.scrollTo(0, 0);
  const show = screen();
  show(el('p', { class: 'loading', text: 'Loading…' }));
  VIEWS[view](rest.map(decode).join('/')).catch((error) => show(el('p', { class: 'error', text: error.message })));
}

// A hash typed by hand may not decode; it then names what it says.
function decode(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

connect({ route, signOut });
document.getElementById('sign-out').addEventListener('click', () => signOut());
window.addEventListener('hashchange', route);
if (state.key) {
  gql('{ program { name currency timezone } auditLog(first: 1) { edges { cursor } } }')
    .then((data) => start(data.program))
    .catch((error) => signOut(error.message));
} else {
  showSignIn();
}
