// The catalog: the product list with its editor, and the product names the rule form suggests.
import { busy, el, gql, money, notice, screen, state } from './core.js';
import { field } from './fields.js';

export async function catalog() {
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

export function catalogLists(products) {
  const names = new Set();
  for (const p of products) names.add(p.category), p.family && names.add(p.family);
  return [
    el('datalist', { id: 'catalog-skus' }, products.map((p) => el('option', { value: p.sku, text: p.name }))),
    el('datalist', { id: 'catalog-names' }, [...names, ...products.map((p) => p.sku)].map((n) => el('option', { value: n }))),
    el('datalist', { id: 'catalog-categories' }, [...new Set(products.map((p) => p.category))].map((n) => el('option', { value: n }))),
    el('datalist', { id: 'catalog-families' }, [...new Set(products.map((p) => p.family).filter(Boolean))].map((n) => el('option', { value: n }))),
  ];
}

export async function showCatalog() {
  const show = screen();
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
      // Edit comes first, where a phone shows it without scrolling the table sideways.
      el('thead', {}, el('tr', {}, ['', 'Sku', 'Name', 'Category', 'Family', 'Size', 'Price'].map((h) => el('th', { text: h })))),
      el('tbody', {}, shown.slice(0, 300).map((p) => el('tr', { 'data-sku': p.sku },
        el('td', {}, el('button', { type: 'button', class: 'link', text: 'Edit', onclick: () => editor.edit(p) })),
        el('td', { text: p.sku }), el('td', { text: p.name }), el('td', { text: p.category }),
        el('td', { text: p.family || '' }), el('td', { class: 'num', text: p.sizeRank ?? '' }),
        el('td', { class: 'num', text: money(p.price) }))))),
    shown.length > 300 ? el('p', { class: 'hint', text: `Showing 300 of ${shown.length}: narrow the search.` }) : '');
  };
  filter.addEventListener('change', render);
  search.addEventListener('input', render);
  show(el('section', {},
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
      if (!form.isConnected) return;
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
