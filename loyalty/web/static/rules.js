// Rules: the list, the editor with its live-validated form, and the simulator beside it.
import { busy, count, el, go, gql, money, moneyInput, notice, parseInteger, parseMoney, screen, state, when } from './core.js';
import { field, getPath, setPath } from './fields.js';
import { catalog, catalogLists } from './catalog.js';

const KIND_NAMES = {
  BASE_EARN: 'Base earn', UPSIZE: 'Upsize', ADD_ON: 'Add-on', SPEND_THRESHOLD: 'Spend threshold',
  BUNDLE: 'Bundle', PRODUCT_BONUS: 'Product bonus',
};
const NUDGING = new Set(['UPSIZE', 'ADD_ON', 'SPEND_THRESHOLD', 'BUNDLE']);
const RULE_FIELDS = 'id version kind name status priority exclusive message spec createdAt updatedAt';

export async function showRules(id) {
  if (id) return showRuleEditor(id === 'new' ? null : id);
  const show = screen();
  const archived = el('input', { type: 'checkbox', id: 'show-archived' });
  const list = el('div', { class: 'scroll' });
  const load = async () => {
    const data = await gql(`query($a: Boolean!) { rules(includeArchived: $a) { ${RULE_FIELDS} } }`, { a: archived.checked });
    list.replaceChildren(rulesTable(data.rules));
  };
  archived.addEventListener('change', () => load().catch((e) => notice(e.message, 'error')));
  show(el('section', {},
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
  // Bonus points and a multiplier both pay when both are given.
  const bonus = (key, label) => [
    field(`${key}.points`, label, 'int', { min: 0, max: 1000000 }),
    field(`${key}.multiplierPercent`, 'and/or base points times (%)', 'int', { min: 100, max: 1000, hint: '200 doubles' }),
  ];
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
      ...bonus('spendThreshold', 'Bonus points'),
    ] },
    { title: 'Bundle', kinds: ['BUNDLE'], fields: [
      field('bundle.items', 'Items of the set, one per line', 'matches', { required: true }),
      points('bundle.points', 'Bonus points per set'),
    ] },
    { title: 'Product bonus', kinds: ['PRODUCT_BONUS'], fields: [
      field('productBonus.target', 'Product', 'match', { required: true }),
      ...bonus('productBonus', 'Bonus points per unit'),
    ] },
    { title: 'When it applies', fields: [
      field('conditions.validFrom', 'From (your local time)', 'datetime'),
      field('conditions.validTo', 'Until (not included)', 'datetime'),
      field('conditions.daysOfWeek', `Days (${state.program.timezone})`, 'checks', { options: DAYS, numbers: true }),
      field('conditions.timeFrom', 'From hour', 'time'),
      field('conditions.timeTo', 'Until hour (not included)', 'time', { endOfDay: true, hint: '00:00 is midnight, the end of the day' }),
      field('conditions.channels', 'Channels', 'checks', { options: [['POS', 'till'], ['APP', 'app'], ['WEB', 'web']] }),
      field('conditions.stores', 'Stores', 'list', { placeholder: 'S1, S2', hint: 'Empty means every store' }),
      tiers.length ? field('conditions.tiers', 'Tiers', 'checks', { options: tiers }) : null,
      field('conditions.excludedSegments', 'Not for customers who', 'checks', { options: [['discount_only', 'only buy on discount'], ['mostly_returns', 'mostly return']] }),
    ].filter(Boolean) },
    { title: 'Limits', fields: [
      field('caps.period', 'Per customer', 'select', { options: [['', 'no limit'], ['DAY', 'per day'], ['WEEK', 'per week'], ['MONTH', 'per month']] }),
      field('caps.maxAwards', 'Times per period', 'int', { min: 1, max: 1000 }),
      field('caps.maxPoints', 'Points per period', 'int', { min: 1 }),
      field('caps.budget', 'Budget: points in all, to everyone', 'int', { min: 1 }),
    ] },
    { title: 'Thank-you rebate code', kinds: [...NUDGING], fields: [
      field('rebate.amountOff', 'Amount off', 'money', { min: 1 }),
      field('rebate.percentOff', 'or percent off', 'int', { min: 1, max: 100 }),
      field('rebate.minSpend', 'Minimum spend', 'money', { min: 0 }),
      field('rebate.daysValid', 'Days valid', 'int', { min: 1, max: 366 }),
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
  const paysSomething = (key) => {
    const { points = 0, multiplierPercent = 100 } = input[key] || {};
    if (!points && multiplierPercent <= 100 && !errors[`${key}.points`] && !errors[`${key}.multiplierPercent`]) {
      errors[`${key}.points`] = 'give bonus points, a multiplier above 100, or both';
    }
  };
  if (kind === 'SPEND_THRESHOLD') paysSomething('spendThreshold');
  if (kind === 'PRODUCT_BONUS') paysSomething('productBonus');
  if (kind === 'UPSIZE' && !input.upsize?.category && !input.upsize?.family && !errors['upsize.category']) {
    errors['upsize.category'] = 'give a category or a family';
  }
  if (input.upsize?.category && input.upsize?.family) errors['upsize.family'] = 'a category or a family, not both';
  if (input.rebate?.amountOff !== undefined && input.rebate?.percentOff !== undefined) errors['rebate.percentOff'] = 'amount off or percent off, not both';
  if (input.rebate && input.rebate.amountOff === undefined && input.rebate.percentOff === undefined) errors['rebate.amountOff'] = 'give an amount or a percent off';
  const c = input.conditions || {};
  if (c.validFrom && c.validTo && new Date(c.validFrom) >= new Date(c.validTo)) errors['conditions.validTo'] = 'must be after the start';
  if (Boolean(c.timeFrom) !== Boolean(c.timeTo)) errors[c.timeFrom ? 'conditions.timeTo' : 'conditions.timeFrom'] = 'give both hours, or neither';
  if (c.timeFrom && c.timeTo && c.timeTo <= c.timeFrom) errors['conditions.timeTo'] = 'must be after the start hour';
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
  const show = screen();
  const [products, extra] = await Promise.all([
    catalog(),
    gql(`query($id: ID!, $has: Boolean!) { tiers { name } rule(id: $id) @include(if: $has) { ${RULE_FIELDS} } }`, { id: id || '0', has: Boolean(id) }),
  ]);
  state.tiers = extra.tiers;
  const rule = extra.rule || null;
  if (id && !rule) {
    show(el('p', { class: 'error', text: `No rule ${id}.` }), el('a', { href: '#/rules', text: 'Back to the rules' }));
    return;
  }
  // An archived rule is shown as it was, to read and to simulate: the service keeps no new versions of it.
  const archived = rule?.status === 'archived';
  const sections = ruleSections();
  const fieldsets = sections.map((s) => el('fieldset', { 'data-kinds': s.kinds ? s.kinds.join(' ') : null, disabled: archived },
    el('legend', { text: s.title }), s.fields.map((f) => f.row)));
  const save = el('button', { type: 'submit', id: 'save-rule', text: rule ? 'Save as a new version' : 'Create rule', hidden: archived });
  const archive = rule && !archived ? el('button', { type: 'button', class: 'danger', id: 'archive-rule', text: 'Archive' }) : null;
  const summary = el('p', { class: 'form-errors', role: 'alert' });
  const form = el('form', { id: 'rule-form', novalidate: true }, fieldsets, summary,
    el('div', { class: 'actions' }, save, archive, el('a', { href: '#/rules', text: archived ? 'Back to the rules' : 'Cancel' })));
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
    if (archived) return;
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
  show(...catalogLists(products), el('div', { class: 'heading' },
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
