import { executingNode } from '@entropy/protocol';
import type { FeasiblePlan, NodeAction, NodeActionType, PlanActionType } from '@entropy/engine';
import { escapeXml as esc, svgStart } from '../svg/svg-document.ts';
import type { MeasuredAction } from './measured-actions.ts';

type BarType = PlanActionType | NodeActionType;

/** One colour per action type; ColorBrewer Dark2 and Paired, distinct for colour-blind readers. */
const COLOURS: Readonly<Record<BarType, string>> = {
  run: '#1b9e77',
  stop: '#666666',
  pause: '#e6ab02',
  suspend: '#7570b3',
  resume: '#e7298a',
  unpause: '#a6761d',
  migrate: '#d95f02',
  bootNode: '#66a61e',
  shutdownNode: '#1f78b4',
};
const TYPES = Object.keys(COLOURS) as BarType[];
const FAILED = '#cc0000';

const WIDTH = 1100;
const LEFT = 120;
const RIGHT = 30;
const TOP = 96;
const LANE_GAP = 6;
const AXIS = 56;
/** Step labels closer than this (px) to the previous one are left out: their lines say enough. */
const LABEL_GAP = 30;

/** What the chart needs of a plan (a plan file's `target` is optional). */
export type GanttPlan = Pick<FeasiblePlan, 'actions' | 'nodeActions' | 'makespan'>;

export interface GanttOptions {
  readonly title?: string;
}

/** One bar of the chart: an action on one node's lane (a migration has a second, faint one on its destination's). */
interface Bar {
  readonly id: string;
  readonly type: BarType;
  readonly label: string;
  readonly lane: string;
  readonly step: number;
  readonly start: number;
  readonly end: number;
  readonly measured?: MeasuredAction;
  readonly incoming: boolean;
  readonly about: string;
}

/**
 * A Gantt chart of a plan as a hand-written SVG: a lane per node, one bar per action on the node
 * that runs it (the source of a migration, whose destination gets a faint bar too), coloured by
 * type; the planned bar on top, the measured one (when given) below it, failed ones outlined in
 * red; dashed lines where the plan starts each step, solid ones where each step was measured to
 * end. Deterministic: the same plan and measures give the same text.
 */
export function ganttSvg(plan: GanttPlan, measured?: readonly MeasuredAction[], options: GanttOptions = {}): string {
  const withMeasures = measured !== undefined;
  const measuredById = new Map((measured ?? []).map((m) => [m.id, m]));
  const bars = barsOf(plan, measuredById);
  const horizon = Math.max(
    1,
    plan.makespan,
    ...bars.map((b) => b.end),
    ...(measured ?? []).map((m) => m.end ?? m.start),
  );
  const plotW = WIDTH - LEFT - RIGHT;
  const x = (t: number) => LEFT + (t / horizon) * plotW;
  const row = withMeasures ? 26 : 16;

  // Each lane stacks its bars in rows, so that bars overlapping in time (planned or measured) never cover each other.
  const lanes = [...new Set(bars.map((b) => b.lane))].sort(compare);
  const rowsOf = new Map<string, Map<Bar, number>>();
  for (const lane of lanes) {
    const placed = new Map<Bar, number>();
    const rowEnds: number[] = [];
    const own = bars
      .filter((b) => b.lane === lane)
      .sort((a, b) => span(a)[0] - span(b)[0] || compare(a.id, b.id) || Number(a.incoming) - Number(b.incoming));
    for (const b of own) {
      const [s, e] = span(b);
      let r = rowEnds.findIndex((end) => end <= s);
      if (r < 0) r = rowEnds.push(e) - 1;
      else rowEnds[r] = e;
      placed.set(b, r);
    }
    rowsOf.set(lane, placed);
  }
  const laneTop = new Map<string, number>();
  let y = TOP;
  for (const lane of lanes) {
    laneTop.set(lane, y);
    y += Math.max(1, ...[...rowsOf.get(lane)!.values()].map((r) => r + 1)) * row + LANE_GAP;
  }
  const bottom = Math.max(y, TOP + row);
  const height = bottom + AXIS;

  const out: string[] = [
    ...svgStart(WIDTH, height),
    `<text x="${LEFT}" y="26" font-size="17" font-weight="600" fill="#222">${esc(options.title ?? 'plan')}</text>`,
    ...legend(bars, withMeasures),
  ];
  lanes.forEach((lane, i) => {
    const top = laneTop.get(lane)!;
    const h = Math.max(1, ...[...rowsOf.get(lane)!.values()].map((r) => r + 1)) * row;
    out.push(
      `<rect x="${LEFT}" y="${top}" width="${plotW}" height="${h}" fill="${i % 2 === 0 ? '#f6f6f6' : '#ffffff'}"/>`,
      `<text x="${LEFT - 8}" y="${fmt(top + h / 2 + 4)}" font-size="12" fill="#333" text-anchor="end">${esc(lane)}</text>`,
    );
  });
  if (bars.length === 0)
    out.push(
      `<text x="${LEFT + plotW / 2}" y="${TOP + row / 2 + 4}" font-size="12" fill="#666" text-anchor="middle">nothing to do</text>`,
    );
  for (const t of ticks(horizon)) {
    out.push(
      `<line x1="${fmt(x(t))}" x2="${fmt(x(t))}" y1="${TOP}" y2="${bottom}" stroke="#e4e4e4"/>`,
      `<text x="${fmt(x(t))}" y="${bottom + 16}" font-size="11" fill="#666" text-anchor="middle">${seconds(t, horizon)}</text>`,
    );
  }
  out.push(
    `<text x="${LEFT + plotW / 2}" y="${bottom + 48}" font-size="12" fill="#444" text-anchor="middle">time from the plan's start (s)</text>`,
  );
  let labelled = -Infinity;
  for (const [step, t] of plannedStepStarts(bars)) {
    out.push(
      `<line x1="${fmt(x(t))}" x2="${fmt(x(t))}" y1="${TOP - 8}" y2="${bottom}" stroke="#555" stroke-dasharray="4 3" stroke-width="1"/>`,
    );
    if (x(t) - labelled < LABEL_GAP) continue;
    labelled = x(t);
    out.push(`<text x="${fmt(x(t) + 2)}" y="${TOP - 10}" font-size="10" fill="#555">s${step}</text>`);
  }
  if (withMeasures) {
    labelled = -Infinity;
    for (const [step, t] of measuredStepEnds(bars)) {
      out.push(
        `<line x1="${fmt(x(t))}" x2="${fmt(x(t))}" y1="${TOP}" y2="${bottom + 20}" stroke="#222" stroke-width="1.2"/>`,
      );
      if (x(t) - labelled < LABEL_GAP * 1.5) continue;
      labelled = x(t);
      out.push(`<text x="${fmt(x(t) + 2)}" y="${bottom + 30}" font-size="9" fill="#222">s${step} done</text>`);
    }
  }
  for (const lane of lanes) {
    const placed = rowsOf.get(lane)!;
    for (const [b, r] of [...placed].sort(
      ([a], [c]) => compare(a.id, c.id) || Number(a.incoming) - Number(c.incoming),
    )) {
      out.push(...drawBar(b, laneTop.get(lane)! + r * row, x, withMeasures, horizon));
    }
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function barsOf(plan: GanttPlan, measured: ReadonlyMap<string, MeasuredAction>): Bar[] {
  const bars: Bar[] = [];
  const measures = (id: string) => {
    const m = measured.get(id);
    return m ? { measured: m } : {};
  };
  for (const a of plan.actions) {
    const lane = executingNode(a);
    const where = a.type === 'migrate' || (a.type === 'resume' && a.from !== a.to) ? `${a.from} -> ${a.to}` : lane;
    const about = `${a.id} ${a.type} ${a.vm} (vjob ${a.vjob}) on ${where}, step ${a.step}`;
    const bar = {
      id: a.id,
      type: a.type,
      label: a.vm,
      step: a.step,
      start: a.start,
      end: a.end,
      about,
      ...measures(a.id),
    };
    bars.push({ ...bar, lane, incoming: false });
    if (a.type === 'migrate' && a.to !== undefined && a.to !== lane) bars.push({ ...bar, lane: a.to, incoming: true });
  }
  for (const a of plan.nodeActions ?? []) bars.push(nodeBar(a, measures(a.id)));
  return bars;
}

function nodeBar(a: NodeAction, measures: { measured?: MeasuredAction }): Bar {
  return {
    id: a.id,
    type: a.type,
    label: a.node,
    lane: a.node,
    step: a.step,
    start: a.start,
    end: a.end,
    incoming: false,
    about: `${a.id} ${a.type} ${a.node}, step ${a.step}`,
    ...measures,
  };
}

/** The time a bar takes in its lane, planned and measured together. */
function span(b: Bar): [number, number] {
  const m = b.measured;
  return [Math.min(b.start, m?.start ?? b.start), Math.max(b.end, m?.end ?? m?.start ?? b.end)];
}

function drawBar(b: Bar, top: number, x: (t: number) => number, withMeasures: boolean, horizon: number): string[] {
  const colour = COLOURS[b.type];
  const m = b.measured;
  const ph = withMeasures ? 11 : 12;
  const pw = Math.max(1, x(b.end) - x(b.start));
  const tip = `${b.incoming ? 'arriving: ' : ''}${b.about}; planned ${seconds(b.start)}-${seconds(b.end)} s${m ? `; measured ${seconds(m.start)}-${m.end === undefined ? '?' : seconds(m.end)} s${m.durationMs !== undefined ? ` (agent ${seconds(m.durationMs)} s)` : ''}${m.ok === false ? ', FAILED' : ''}` : ''}`;
  const out = [`<g><title>${esc(tip)}</title>`];
  const style = b.incoming
    ? `fill="${colour}" fill-opacity="0.12" stroke="${colour}" stroke-dasharray="3 2"`
    : `fill="${colour}" fill-opacity="${withMeasures ? 0.35 : 0.85}" stroke="${colour}"`;
  out.push(`<rect x="${fmt(x(b.start))}" y="${top + 2}" width="${fmt(pw)}" height="${ph}" rx="2" ${style}/>`);
  const label = b.incoming ? `${b.label} (in)` : b.label;
  if (pw > label.length * 5.6 + 6)
    out.push(`<text x="${fmt(x(b.start) + 3)}" y="${top + 2 + ph - 3}" font-size="9" fill="#111">${esc(label)}</text>`);
  if (m && !b.incoming) {
    const end = m.end ?? horizon;
    const mw = Math.max(1, x(end) - x(m.start));
    const failed = m.ok === false ? ` stroke="${FAILED}" stroke-width="2"` : '';
    const open = m.end === undefined ? ' fill-opacity="0.3" stroke-dasharray="2 2" stroke="#333"' : '';
    out.push(
      `<rect x="${fmt(x(m.start))}" y="${top + 15}" width="${fmt(mw)}" height="8" rx="2" fill="${colour}"${failed}${open}/>`,
    );
  }
  out.push('</g>');
  return out;
}

function legend(bars: readonly Bar[], withMeasures: boolean): string[] {
  const present = TYPES.filter((t) => bars.some((b) => b.type === t));
  const out: string[] = [];
  let lx = LEFT;
  for (const t of present) {
    out.push(
      `<rect x="${lx}" y="40" width="14" height="10" rx="2" fill="${COLOURS[t]}"/>`,
      `<text x="${lx + 18}" y="49" font-size="11" fill="#333">${t}</text>`,
    );
    lx += 26 + t.length * 6.5;
  }
  const keys = [
    `<rect x="${LEFT}" y="60" width="22" height="8" rx="2" fill="#888" fill-opacity="${withMeasures ? 0.35 : 0.85}" stroke="#888"/><text x="${LEFT + 27}" y="68" font-size="11" fill="#333">planned</text>`,
    `<rect x="${LEFT + 90}" y="60" width="22" height="8" rx="2" fill="#888" fill-opacity="0.12" stroke="#888" stroke-dasharray="3 2"/><text x="${LEFT + 117}" y="68" font-size="11" fill="#333">migration arriving</text>`,
    `<line x1="${LEFT + 240}" x2="${LEFT + 262}" y1="64" y2="64" stroke="#555" stroke-dasharray="4 3"/><text x="${LEFT + 267}" y="68" font-size="11" fill="#333">step starts (plan)</text>`,
  ];
  if (withMeasures) {
    keys.push(
      `<rect x="${LEFT + 390}" y="60" width="22" height="8" rx="2" fill="#888"/><text x="${LEFT + 417}" y="68" font-size="11" fill="#333">measured</text>`,
      `<rect x="${LEFT + 490}" y="60" width="22" height="8" rx="2" fill="#888" stroke="${FAILED}" stroke-width="2"/><text x="${LEFT + 517}" y="68" font-size="11" fill="#333">failed</text>`,
      `<line x1="${LEFT + 580}" x2="${LEFT + 602}" y1="64" y2="64" stroke="#222" stroke-width="1.2"/><text x="${LEFT + 607}" y="68" font-size="11" fill="#333">step ends (measured)</text>`,
    );
  }
  return [...out, ...keys];
}

/** Where the plan starts each step after the first: the earliest planned start of its actions. */
function plannedStepStarts(bars: readonly Bar[]): [number, number][] {
  const first = new Map<number, number>();
  for (const b of bars)
    if (!b.incoming && b.step > 0) first.set(b.step, Math.min(first.get(b.step) ?? Infinity, b.start));
  return [...first].sort((a, b) => a[0] - b[0]);
}

/** Where each step was measured to end: its last action's measured end, once all its actions ended. */
function measuredStepEnds(bars: readonly Bar[]): [number, number][] {
  const last = new Map<number, number>();
  const open = new Set<number>();
  for (const b of bars) {
    if (b.incoming) continue;
    if (b.measured?.end === undefined) open.add(b.step);
    else last.set(b.step, Math.max(last.get(b.step) ?? 0, b.measured.end));
  }
  return [...last].filter(([step]) => !open.has(step)).sort((a, b) => a[0] - b[0]);
}

/** About ten round ticks (1, 2 or 5 times a power of ten, in ms) from 0 to the horizon. */
function ticks(horizon: number): number[] {
  const raw = horizon / 10;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * p).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let t = 0; t <= horizon + 1e-9; t += step) out.push(t);
  return out;
}

const seconds = (ms: number, horizon = ms) => (ms / 1000).toFixed(horizon < 10_000 ? 2 : 1);
const fmt = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
