// Draws every [data-chart] element with uPlot (loaded from /assets/vendor, no CDN). The data sits in
// the element's data-chart attribute: {x: [unix seconds], series: [{label, values, kind, axis}], money?}.
import { formatMoney, formatNumber } from './app.js';
import { ZERO_DECIMAL } from './messages.js';

const COLORS = ['#4a3aff', '#12a37f', '#e8590c', '#c2255c'];
const HEIGHT = 260;
const DAY = 86_400;

/** Tick steps of 1, 2, 5 x 10^n from `min` up: whole credits, whole currency units. */
const steps = (min) => {
  const out = [];
  for (let p = 0; p < 15; p++) for (const m of [1, 2, 5]) if (m * 10 ** p >= min) out.push(m * 10 ** p);
  return out;
};

const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

function draw(el) {
  const uPlot = window.uPlot;
  let spec;
  try {
    spec = JSON.parse(el.dataset.chart);
  } catch {
    return;
  }
  el.textContent = '';
  if (!uPlot) {
    el.append(
      Object.assign(document.createElement('p'), {
        className: 'chart-empty',
        textContent: 'The chart could not be loaded.',
      }),
    );
    return;
  }
  if (!spec.x.length) {
    el.append(
      Object.assign(document.createElement('p'), {
        className: 'chart-empty',
        textContent: 'Nothing to show yet.',
      }),
    );
    return;
  }
  let x = spec.x;
  let columns = spec.series.map((s) => s.values);
  if (x.length === 1) {
    // One day of data: start the line from zero the day before, so there is something to see.
    x = [x[0] - DAY, x[0]];
    columns = columns.map((v) => [0, v[0]]);
  }
  const fmt = spec.money ? (v) => formatMoney(Math.round(v), spec.money) : (v) => formatNumber(Math.round(v));
  const short = spec.money ? (v) => formatMoney(Math.round(v), spec.money) : (v) => compact.format(v);
  const hasRight = spec.series.some((s) => s.axis === 'right');
  const series = [
    {},
    ...spec.series.map((s, i) => ({
      label: s.label,
      stroke: COLORS[i % COLORS.length],
      width: 2,
      scale: s.axis === 'right' ? 'right' : 'y',
      fill: s.kind === 'bars' ? `${COLORS[i % COLORS.length]}55` : undefined,
      paths:
        s.kind === 'bars'
          ? uPlot.paths.bars({ size: [0.6, 28] })
          : s.kind === 'step'
            ? uPlot.paths.stepped({ align: 1 })
            : undefined,
      points: { show: s.kind === 'line' },
      value: (_u, v) => (v === null || v === undefined ? '—' : fmt(v)),
    })),
  ];
  const fromZero = (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1];
  const incrs = steps(spec.money && !ZERO_DECIMAL.includes(spec.money) ? 100 : 1);
  const axes = [
    {},
    { scale: 'y', size: 64, incrs, values: (_u, vals) => vals.map(short) },
    ...(hasRight
      ? [
          {
            scale: 'right',
            side: 1,
            size: 56,
            incrs,
            grid: { show: false },
            values: (_u, vals) => vals.map(short),
          },
        ]
      : []),
  ];
  const width = () => Math.max(260, el.clientWidth);
  const plot = new uPlot(
    {
      width: width(),
      height: HEIGHT,
      series,
      axes,
      // Half a day of room on each side, so the first and last day's bars are not cut in half.
      scales: {
        x: { time: true, range: (_u, min, max) => [min - DAY / 2, max + DAY / 2] },
        y: { range: fromZero },
        right: { range: fromZero },
      },
      cursor: { drag: { x: false, y: false } },
    },
    [x, ...columns],
    el,
  );
  if ('ResizeObserver' in window) {
    new ResizeObserver(() => plot.setSize({ width: width(), height: HEIGHT })).observe(el);
  }
}

for (const el of document.querySelectorAll('[data-chart]')) draw(el);
