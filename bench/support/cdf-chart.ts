import { writeFile } from 'node:fs/promises';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** Completion times of one mode, seconds (failed hosts left out). */
export interface CdfSeries {
  mode: string;
  seconds: number[];
  /** Hosts in the run, so a failed host keeps the curve below 1. */
  hosts: number;
}

/**
 * Renders a completion-time CDF (one step line per mode, a rule at the lower bound T*) with
 * vega-lite to `<base>.svg`, and to `<base>.png` through resvg. Resolves with the written paths.
 */
export async function writeCdfChart(base: string, title: string, series: CdfSeries[], tStar?: number): Promise<string[]> {
  const points = series.flatMap((s) => {
    const sorted = [...s.seconds].sort((a, b) => a - b);
    return [{ mode: s.mode, t: 0, done: 0 }, ...sorted.map((t, i) => ({ mode: s.mode, t, done: (i + 1) / s.hosts }))];
  });
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title, width: 560, height: 320, background: 'white',
    config: { font: 'DejaVu Sans', axis: { labelFontSize: 12, titleFontSize: 13 }, legend: { labelFontSize: 12, titleFontSize: 13 } },
    layer: [
      {
        data: { values: points },
        mark: { type: 'line', interpolate: 'step-after', point: true, strokeWidth: 2 },
        encoding: {
          x: { field: 't', type: 'quantitative', title: 'seconds since start' },
          y: { field: 'done', type: 'quantitative', title: 'hosts complete (fraction)', scale: { domain: [0, 1] } },
          color: { field: 'mode', type: 'nominal', title: 'mode' },
        },
      },
      ...(tStar ? [{
        data: { values: [{ t: tStar, label: 'T*' }] },
        mark: { type: 'rule', strokeDash: [4, 4], color: 'gray' },
        encoding: { x: { field: 't', type: 'quantitative' } },
      }, {
        data: { values: [{ t: tStar, label: 'T* (lower bound)' }] },
        mark: { type: 'text', align: 'left', dx: 4, dy: -150, color: 'gray' },
        encoding: { x: { field: 't', type: 'quantitative' }, text: { field: 'label' } },
      }] : []),
    ],
  } as unknown as TopLevelSpec;
  return renderChart(base, spec);
}

/** One point of a named series. */
export interface SeriesPoint { series: string; x: number; y: number }

/** Renders lines (one per series, e.g. RSS over time) like writeCdfChart. */
export function writeSeriesChart(base: string, title: string, points: SeriesPoint[], xTitle: string, yTitle: string): Promise<string[]> {
  return renderChart(base, {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title, width: 560, height: 320, background: 'white',
    config: { font: 'DejaVu Sans', axis: { labelFontSize: 12, titleFontSize: 13 }, legend: { labelFontSize: 12, titleFontSize: 13 } },
    data: { values: points },
    mark: { type: 'line', strokeWidth: 2 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: xTitle },
      y: { field: 'y', type: 'quantitative', title: yTitle, scale: { zero: true } },
      color: { field: 'series', type: 'nominal', title: '' },
    },
  } as unknown as TopLevelSpec);
}

/** A vega-lite spec to `<base>.svg`, and to `<base>.png` through resvg; resolves with the paths. */
async function renderChart(base: string, spec: TopLevelSpec): Promise<string[]> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  await writeFile(`${base}.svg`, svg);
  const png = new Resvg(svg, { fitTo: { mode: 'zoom', value: 2 }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
  await writeFile(`${base}.png`, png);
  return [`${base}.svg`, `${base}.png`];
}
