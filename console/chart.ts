import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { html } from './ui.js';

export interface Series {
  label: string;
  color: string;
  values: (number | null)[];
  /** Points only (no line), for scattered samples. */
  points?: boolean;
}

/** A uPlot chart of series over a shared x axis (seconds since the epoch). */
export function Chart({ x, series, title, yLabel, testid }: { x: number[]; series: Series[]; title: string; yLabel: string; testid?: string }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const width = Math.max(320, el.current.clientWidth || 720);
    const plot = new uPlot({
      title, width, height: 260,
      scales: { x: { time: true } },
      axes: [{}, { label: yLabel, size: 70 }],
      series: [{}, ...series.map((s) => ({
        label: s.label, stroke: s.color, width: s.points ? 0 : 2,
        points: s.points ? { show: true, size: 6, fill: s.color } : { show: false },
      }))],
    }, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, el.current);
    return () => plot.destroy();
  }, [x, series, title, yLabel]);
  return html`<div class="chart" data-testid=${testid} ref=${el}></div>`;
}
