// Analytics: nudge acceptance and revenue by day as SVG line charts, the funnel, tiers, and
// a table by rule.
import { busy, count, el, fractionDigits, gql, main, money, moneyInput, notice, parseMoney, percent, screen, state, stat, svg } from './core.js';

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

export async function showAnalytics() {
  const show = screen();
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
    if (!body.isConnected) return;
    const a = data.analytics;
    if (a.__typename !== 'Analytics') return notice(a.message, 'error');
    body.replaceChildren(...analyticsView(a));
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    notice('');
    busy(go, load);
  });
  show(el('section', {}, el('h1', { text: 'Analytics' }), form, body));
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
    // The last day is always labelled, so a regular label too close before it is left out.
    if (last || (i % every === 0 && days.length - 1 - i >= every)) chart.append(svg('text', { x: x(i), y: H - 8, 'text-anchor': last && i ? 'end' : 'middle', class: 'axis', text: day.slice(5) }));
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
