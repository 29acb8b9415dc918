import type { PublicDiscount } from '../../modules/discounts/discounts.service';
import { DISCOUNT_DURATIONS, DISCOUNT_SCOPES } from '../../modules/discounts/discounts.tables';
import { count, date, featureLabel, money } from '../format';
import { AdminLayout } from './admin';
import { type PageFrame, StatusLine, TableWrap } from './layout';
import { Badge } from './parts';

const Option = (props: { value: string; label?: string; selected?: boolean }) => (
  <option value={props.value} selected={props.selected}>
    {props.label ?? featureLabel(props.value)}
  </option>
);

function discountText(d: PublicDiscount): string {
  if (d.discount_type === 'percentage') return `${d.discount_value}% off`;
  return `${money(d.discount_value, d.currency ?? 'usd')} off`;
}

function durationText(d: PublicDiscount): string {
  if (d.duration === 'repeating') return `${d.duration_in_months} months`;
  return d.duration === 'once' ? 'Once' : 'Forever';
}

export function AdminDiscountsPage(
  props: PageFrame & { discounts: PublicDiscount[]; prices: Array<{ id: string; label: string }> },
) {
  return (
    <AdminLayout {...props} title="Discounts" current="discounts">
      {props.discounts.length ? (
        <TableWrap label="Discount codes">
          <table>
            <thead>
              <tr>
                <th scope="col">Code</th>
                <th scope="col">Discount</th>
                <th scope="col">Duration</th>
                <th scope="col">Applies to</th>
                <th scope="col" class="num">
                  Used
                </th>
                <th scope="col">Expires</th>
                <th scope="col">Status</th>
              </tr>
            </thead>
            <tbody>
              {props.discounts.map((d) => (
                <tr data-scope>
                  <td>
                    <code>{d.code}</code>
                  </td>
                  <td>{discountText(d)}</td>
                  <td>{durationText(d)}</td>
                  <td>
                    {featureLabel(d.scope)}
                    {d.price_ids.length ? (
                      <span class="sub">
                        {d.price_ids
                          .map((id) => props.prices.find((p) => p.id === id)?.label ?? 'an archived price')
                          .join(', ')}
                      </span>
                    ) : null}
                  </td>
                  <td class="num">
                    {count(d.current_uses)}
                    {d.max_uses === null ? '' : ` of ${count(d.max_uses)}`}
                    {d.held_uses ? <span class="sub">{`${count(d.held_uses)} in checkouts`}</span> : null}
                    <span class="sub">
                      {d.max_uses_per_user === null
                        ? 'no limit per customer'
                        : `${d.max_uses_per_user} per customer`}
                    </span>
                  </td>
                  <td>{d.expires_at ? date(d.expires_at) : 'Never'}</td>
                  <td class="actions-cell">
                    {d.status === 'pending' ? (
                      <Badge kind="warn" text="pending" />
                    ) : d.is_active ? (
                      <Badge kind="ok" text="active" />
                    ) : (
                      <Badge kind="plain" text="inactive" />
                    )}{' '}
                    {d.is_active ? (
                      <button
                        type="button"
                        class="link small"
                        data-api={`/api/v1/admin/discounts/${d.id}`}
                        data-method="DELETE"
                        data-confirm={`Deactivate ${d.code}? Customers can no longer use it.`}
                        data-success="Deactivated."
                        data-reload
                      >
                        Deactivate
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
        <p class="muted">No discount codes yet.</p>
      )}

      <section class="card">
        <h2>New discount code</h2>
        <form data-api="/api/v1/admin/discounts" data-success="Discount code created." data-reload novalidate>
          <div class="form-row">
            <div>
              <label for="discount-code">Code</label>
              <input id="discount-code" name="code" type="text" required maxlength={100} autocomplete="off" />
            </div>
            <div>
              <label for="discount-type">Type</label>
              <select id="discount-type" name="discount_type">
                <Option value="percentage" label="Percentage" />
                <Option value="fixed_amount" label="Fixed amount" />
              </select>
            </div>
            <div>
              <label for="discount-value">
                Value <span class="hint">Percent (1–100), or the smallest currency unit</span>
              </label>
              <input
                id="discount-value"
                name="discount_value"
                type="number"
                min={1}
                step={1}
                required
                data-type="int"
              />
            </div>
            <div>
              <label for="discount-currency">
                Currency <span class="hint">Fixed amounts only</span>
              </label>
              <input id="discount-currency" name="currency" type="text" maxlength={3} placeholder="usd" />
            </div>
          </div>
          <div class="form-row">
            <div>
              <label for="discount-duration">Duration</label>
              <select id="discount-duration" name="duration">
                {DISCOUNT_DURATIONS.map((d) => (
                  <Option value={d} />
                ))}
              </select>
            </div>
            <div>
              <label for="discount-months">
                Months <span class="hint">Repeating only</span>
              </label>
              <input
                id="discount-months"
                name="duration_in_months"
                type="number"
                min={1}
                step={1}
                data-type="int"
              />
            </div>
            <div>
              <label for="discount-scope">Applies to</label>
              <select id="discount-scope" name="scope">
                {DISCOUNT_SCOPES.map((s) => (
                  <Option value={s} selected={s === 'both'} />
                ))}
              </select>
            </div>
          </div>
          <div class="form-row">
            <div>
              <label for="discount-max">
                Total uses <span class="hint">Empty: unlimited</span>
              </label>
              <input id="discount-max" name="max_uses" type="number" min={1} step={1} data-type="int" />
            </div>
            <div>
              <label for="discount-per-user">
                Uses per customer <span class="hint">Empty: 1</span>
              </label>
              <input
                id="discount-per-user"
                name="max_uses_per_user"
                type="number"
                min={1}
                step={1}
                data-type="int"
              />
            </div>
            <div>
              <label for="discount-expires">
                Expires <span class="hint">Empty: never</span>
              </label>
              <input id="discount-expires" name="expires_at" type="datetime-local" data-type="date" />
            </div>
          </div>
          <div class="actions">
            <button type="submit">Create code</button>
          </div>
          <StatusLine />
        </form>
      </section>
    </AdminLayout>
  );
}
