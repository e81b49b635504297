import { escapeXml, svgStart } from './svg-document.ts';
import type { SimulationResult, UseSegment } from '@entropy/engine';

/** Colours that stay distinct for colour-blind readers (ColorBrewer Dark2). */
const PALETTE = ['#d95f02', '#1b9e77', '#7570b3', '#e7298a', '#66a61e', '#e6ab02'];
const WIDTH = 960;
const PANEL = 230;
const LEFT = 64;
const RIGHT = 24;
const TOP = 116;
const GAP = 64;
const BINS = 320;

/**
 * A hand-written SVG of the cluster's CPU and memory use over time, one curve per simulation:
 * two stacked panels sharing the time axis, each policy's end marked, a legend with its figures.
 */
export function plotUse(results: readonly SimulationResult[], title: string): string {
  const end = niceCeil(Math.max(1, ...results.map((r) => r.makespanMs)) / 60_000);
  const plotW = WIDTH - LEFT - RIGHT;
  const height = TOP + 2 * PANEL + GAP + 56;
  const x = (minutes: number) => LEFT + (minutes / end) * plotW;
  const out: string[] = [];
  out.push(
    ...svgStart(WIDTH, height),
    `<text x="${LEFT}" y="30" font-size="19" font-weight="600" fill="#222">${esc(title)}</text>`,
  );
  results.forEach((r, i) => {
    const colour = PALETTE[i % PALETTE.length]!;
    const lx = LEFT + i * 300;
    out.push(
      `<rect x="${lx}" y="46" width="22" height="4" rx="2" fill="${colour}"/>`,
      `<text x="${lx + 30}" y="52" font-size="13" font-weight="600" fill="#222">${esc(r.policy)}</text>`,
      `<text x="${lx + 30}" y="70" font-size="12" fill="#555">cumulated ${fmt(r.cumulatedMs / 60_000)} min · makespan ${fmt(r.makespanMs / 60_000)} min</text>`,
    );
  });
  const panels: [string, keyof Pick<UseSegment, 'cpu' | 'mem'>][] = [
    ['CPU used', 'cpu'],
    ['memory held by running VMs', 'mem'],
  ];
  panels.forEach(([label, key], p) => {
    const top = TOP + p * (PANEL + GAP);
    const y = (share: number) => top + PANEL - share * PANEL;
    for (const level of [0, 0.25, 0.5, 0.75, 1]) {
      out.push(
        `<line x1="${LEFT}" x2="${LEFT + plotW}" y1="${y(level)}" y2="${y(level)}" stroke="${level === 0 ? '#888' : '#e4e4e4'}" stroke-width="1"/>`,
        `<text x="${LEFT - 8}" y="${y(level) + 4}" font-size="11" fill="#666" text-anchor="end">${level * 100}%</text>`,
      );
    }
    for (const t of ticks(end)) {
      out.push(`<line x1="${x(t)}" x2="${x(t)}" y1="${top}" y2="${top + PANEL}" stroke="#f0f0f0"/>`);
      out.push(`<text x="${x(t)}" y="${top + PANEL + 16}" font-size="11" fill="#666" text-anchor="middle">${t}</text>`);
    }
    out.push(
      `<text x="${LEFT}" y="${top - 10}" font-size="14" font-weight="600" fill="#333">${esc(label)} (share of the cluster)</text>`,
    );
    results.forEach((r, i) => {
      const colour = PALETTE[i % PALETTE.length]!;
      const points = resample(r.timeline, key, r.makespanMs, (end * 60_000) / BINS).map(
        ([t, v]) => `${x(t / 60_000).toFixed(1)},${y(v).toFixed(1)}`,
      );
      if (points.length === 0) return;
      const base = y(0).toFixed(1);
      const first = points[0]!.split(',')[0];
      const last = points[points.length - 1]!.split(',')[0];
      out.push(
        `<path d="M${first},${base} L${points.join(' L')} L${last},${base} Z" fill="${colour}" fill-opacity="0.12" stroke="none"/>`,
        `<polyline points="${points.join(' ')}" fill="none" stroke="${colour}" stroke-width="1.8" stroke-linejoin="round"/>`,
      );
      const done = x(r.makespanMs / 60_000);
      out.push(
        `<line x1="${done}" x2="${done}" y1="${top}" y2="${top + PANEL}" stroke="${colour}" stroke-dasharray="4 3" stroke-width="1.2"/>`,
        `<text x="${done - 4}" y="${top + 14 + i * 14}" font-size="11" fill="${colour}" text-anchor="end">${esc(r.policy)} done</text>`,
      );
    });
  });
  const axisY = TOP + 2 * PANEL + GAP + 40;
  out.push(
    `<text x="${LEFT + plotW / 2}" y="${axisY}" font-size="12" fill="#444" text-anchor="middle">time (minutes of virtual time)</text>`,
  );
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Time-weighted averages of a piecewise-constant series over bins of `width` ms, up to `until`. */
function resample(
  timeline: readonly UseSegment[],
  key: 'cpu' | 'mem',
  until: number,
  width: number,
): [number, number][] {
  const points: [number, number][] = [];
  let k = 0;
  for (let start = 0; start < until; start += width) {
    const stop = Math.min(until, start + width);
    let area = 0;
    while (k < timeline.length && timeline[k]!.end <= start) k++;
    for (let j = k; j < timeline.length && timeline[j]!.start < stop; j++) {
      const s = timeline[j]!;
      area += s[key] * (Math.min(stop, s.end) - Math.max(start, s.start));
    }
    const v = area / (stop - start);
    points.push([start, v], [stop, v]);
  }
  return points;
}

function niceCeil(minutes: number): number {
  const step = minutes <= 30 ? 5 : minutes <= 120 ? 10 : minutes <= 600 ? 60 : 120;
  return Math.ceil(minutes / step) * step;
}

function ticks(end: number): number[] {
  const step = end <= 30 ? 5 : end <= 120 ? 10 : end <= 600 ? 60 : 120;
  const out: number[] = [];
  for (let t = 0; t <= end + 1e-9; t += step) out.push(t);
  return out;
}

const fmt = (x: number) => x.toFixed(1);
const esc = escapeXml;
