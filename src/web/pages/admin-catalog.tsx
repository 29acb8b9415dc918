import type { PriceRow, ProductRow, TierRow } from '../../modules/catalog/catalog.tables';
import { BILLING_INTERVALS, PRICE_TYPES, PRODUCT_TYPES } from '../../modules/catalog/catalog.tables';
import { count, featureLabel, intervalLabel, money } from '../format';
import { AdminLayout } from './admin';
import { type PageFrame, StatusLine, TableWrap } from './layout';
import { Badge } from './parts';

const Option = (props: { value: string; label?: string; selected?: boolean }) => (
  <option value={props.value} selected={props.selected}>
    {props.label ?? featureLabel(props.value)}
  </option>
);

function PriceList(props: { prices: PriceRow[] }) {
  if (!props.prices.length) return <span class="sub">No prices</span>;
  return (
    <ul class="small">
      {props.prices.map((p) => (
        <li data-scope>
          {money(p.unitAmount, p.currency)} {intervalLabel(p.billingInterval, p.billingIntervalCount)}{' '}
          {p.lookupKey ? <code>{p.lookupKey}</code> : null}{' '}
          {p.isActive ? null : <Badge kind="plain" text="archived" />}
          {p.isActive ? (
            <button
              type="button"
              class="link small"
              data-api={`/api/v1/admin/prices/${p.id}`}
              data-method="DELETE"
              data-confirm="Archive this price? Existing subscriptions keep it; new buyers cannot choose it."
              data-success="Archived."
              data-reload
            >
              Archive
            </button>
          ) : null}
          <span class="status" role="status" aria-live="polite" data-status />
        </li>
      ))}
    </ul>
  );
}

export function AdminCatalogPage(
  props: PageFrame & { tiers: TierRow[]; products: ProductRow[]; prices: PriceRow[] },
) {
  const tierName = (id: string | null) => (id ? (props.tiers.find((t) => t.id === id)?.name ?? '—') : '—');
  return (
    <AdminLayout {...props} title="Catalog" current="catalog">
      <h2>Tiers</h2>
      <TableWrap label="Tiers">
        <table>
          <thead>
            <tr>
              <th scope="col">Tier</th>
              <th scope="col" class="num">
                Rank
              </th>
              <th scope="col">Features</th>
              <th scope="col">Limits</th>
            </tr>
          </thead>
          <tbody>
            {props.tiers.map((t) => (
              <tr>
                <td>
                  {t.name} <span class="sub">{t.key}</span>
                </td>
                <td class="num">{t.rank}</td>
                <td>{t.features.map((f) => featureLabel(f)).join(', ') || '—'}</td>
                <td>
                  {Object.entries(t.limits)
                    .map(([k, v]) => `${featureLabel(k)}: ${count(v)}`)
                    .join(', ') || '—'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>

      <h2>Products and prices</h2>
      {props.products.length ? (
        <TableWrap label="Products">
          <table>
            <thead>
              <tr>
                <th scope="col">Product</th>
                <th scope="col">Type</th>
                <th scope="col">Tier</th>
                <th scope="col">Prices</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {props.products.map((p) => (
                <tr data-scope data-product-id={p.id}>
                  <td>
                    <span data-testid="product-name">{p.name}</span>
                    {p.description ? <span class="sub">{p.description}</span> : null}
                    <span class="sub">{p.stripeProductId ?? 'local only'}</span>
                  </td>
                  <td>{featureLabel(p.productType)}</td>
                  <td>{tierName(p.tierId)}</td>
                  <td>
                    <PriceList prices={props.prices.filter((x) => x.productId === p.id)} />
                  </td>
                  <td class="actions-cell">
                    {p.isActive ? <Badge kind="ok" text="active" /> : <Badge kind="plain" text="archived" />}{' '}
                    {p.isActive ? (
                      <button
                        type="button"
                        class="link small"
                        data-api={`/api/v1/admin/products/${p.id}`}
                        data-method="DELETE"
                        data-confirm="Archive this product and stop selling it?"
                        data-success="Archived."
                        data-reload
                      >
                        Archive
                      </button>
                    ) : null}
                    <span class="status" role="status" aria-live="polite" data-status />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : (
        <p class="muted">No products yet.</p>
      )}

      <div class="grid two">
        <section class="card">
          <h2>New product</h2>
          <form data-api="/api/v1/admin/products" data-success="Product created." data-reload novalidate>
            <label for="product-name">Name</label>
            <input id="product-name" name="name" type="text" required maxlength={200} />
            <label for="product-description">Description</label>
            <input id="product-description" name="description" type="text" maxlength={1000} />
            <div class="form-row">
              <div>
                <label for="product-type">Type</label>
                <select id="product-type" name="product_type">
                  {PRODUCT_TYPES.map((t) => (
                    <Option value={t} />
                  ))}
                </select>
              </div>
              <div>
                <label for="product-tier">Tier</label>
                <select id="product-tier" name="tier_id">
                  <option value="">None</option>
                  {props.tiers.map((t) => (
                    <option value={t.id}>{t.name}</option>
                  ))}
                </select>
              </div>
            </div>
            <label class="check">
              <input type="checkbox" name="local_only" /> Only in Paywire (not created in Stripe)
            </label>
            <div class="actions">
              <button type="submit">Create product</button>
            </div>
            <StatusLine />
          </form>
        </section>

        <section class="card">
          <h2>New price</h2>
          {props.products.some((p) => p.isActive) ? (
            <form data-api="/api/v1/admin/prices" data-success="Price created." data-reload novalidate>
              <label for="price-product">Product</label>
              <select id="price-product" name="product_id">
                {props.products
                  .filter((p) => p.isActive)
                  .map((p) => (
                    <option value={p.id}>{p.name}</option>
                  ))}
              </select>
              <div class="form-row">
                <div>
                  <label for="price-amount">
                    Amount <span class="hint">In the smallest unit: 1900 = $19.00</span>
                  </label>
                  <input
                    id="price-amount"
                    name="unit_amount"
                    type="number"
                    min={1}
                    step={1}
                    required
                    data-type="int"
                  />
                </div>
                <div>
                  <label for="price-currency">Currency</label>
                  <input id="price-currency" name="currency" type="text" value="usd" maxlength={3} required />
                </div>
              </div>
              <div class="form-row">
                <div>
                  <label for="price-type">Price type</label>
                  <select id="price-type" name="price_type">
                    {PRICE_TYPES.map((t) => (
                      <Option value={t} />
                    ))}
                  </select>
                </div>
                <div>
                  <label for="price-interval">Billing interval</label>
                  <select id="price-interval" name="billing_interval">
                    <option value="">None (one-time)</option>
                    {BILLING_INTERVALS.map((t) => (
                      <Option value={t} />
                    ))}
                  </select>
                </div>
              </div>
              <div class="form-row">
                <div>
                  <label for="price-lookup">Lookup key</label>
                  <input id="price-lookup" name="lookup_key" type="text" maxlength={200} />
                </div>
                <div>
                  <label for="price-nickname">Nickname</label>
                  <input id="price-nickname" name="nickname" type="text" maxlength={200} />
                </div>
              </div>
              <label class="check">
                <input type="checkbox" name="local_only" /> Only in Paywire (not created in Stripe)
              </label>
              <div class="actions">
                <button type="submit">Create price</button>
              </div>
              <StatusLine />
            </form>
          ) : (
            <p class="muted">Create a product first.</p>
          )}
        </section>
      </div>
    </AdminLayout>
  );
}
