// Customers: look one up, see balance, tier, ledger and codes, and adjust their points.
import { busy, count, el, go, gql, money, notice, randomKey, screen, stat, when } from './core.js';
import { field } from './fields.js';

const CUSTOMER = `id balance availablePoints pendingPoints debt lifetimePoints memberSince
  tier { tier { name multiplierPercent } qualifyingPoints progress keptThrough }
  expiring(first: 3) { points lastDay }
  rebateCodes { code state amountOff percentOff minSpend expiresAt usable unusableReason }
  ledger(first: 20, after: $after) { edges { node { id kind points balanceAfter reason ruleId createdAt purchase { transactionId storeId subtotal } } } pageInfo { hasNextPage endCursor } }`;

export async function showCustomers(id) {
  const show = screen();
  const input = el('input', { type: 'search', id: 'customer-id', value: id || '', placeholder: 'member number or app user id', 'aria-label': 'Customer id', required: true });
  const lookUp = el('button', { type: 'submit', text: 'Look up' });
  const form = el('form', { class: 'toolbar', id: 'customer-search' }, input, lookUp);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    // The same customer looked up again is read again: their points may have moved since.
    if (input.value.trim()) go(`#/customers/${encodeURIComponent(input.value.trim())}`);
  });
  const body = el('div', { id: 'customer' });
  show(el('section', {}, el('h1', { text: 'Customers' }), form, body));
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
    result.textContent = '';
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
      if (!form.isConnected) return;
      notice(`${Number(res.entry.points) > 0 ? 'Added' : 'Took'} ${count(Math.abs(Number(res.entry.points)))} points. Balance now ${count(res.balance)}.`, 'ok');
      await showCustomers(customerId);
    });
  });
  return form;
}
