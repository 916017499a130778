/**
 * The timeline: a zoomable time axis showing how many recovery points fall in each bucket
 * (the server aggregates), bookmarks as markers, and the chosen moment as a line. Click a
 * bar to choose its last point, or anywhere else to choose that moment; drag across it to
 * zoom into that span. With the keyboard, arrows step between bars, Enter chooses, + and
 * - zoom.
 */
import { svg } from './dom.js';

export interface TimelineData {
  from: string; to: string; bucketMs: number; points: number;
  buckets: { start: string; count: number; firstSeq: number; lastSeq: number; lastTime: string }[];
  bookmarks: { name: string; seq: number; time: string; consistency: string }[];
}

export interface TimelineEvents {
  /** a point chosen by seq (a bar) or a moment chosen by time (elsewhere) */
  choose(at: { seq?: number; time?: number }): void;
  zoom(from: number, to: number): void;
}

const W = 1000, H = 130, AXIS = 20;

export function timelineChart(t: TimelineData, selected: number | null, ev: TimelineEvents): SVGElement {
  const from = Date.parse(t.from), to = Date.parse(t.to);
  const x = (ms: number): number => ((ms - from) / (to - from)) * W;
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'timeline', tabindex: 0, role: 'group', 'aria-label': `Timeline: ${t.points} points; arrows move, Enter chooses, + and - zoom`, preserveAspectRatio: 'none' });
  const bg = svg('rect', { x: 0, y: 0, width: W, height: H - AXIS, class: 'bg' });
  chart.append(bg);
  const max = Math.max(1, ...t.buckets.map((b) => b.count));
  let dragFrom: number | null = null;
  let dragged = false;
  const bars: SVGElement[] = [];
  for (const b of t.buckets) {
    const bx = x(Date.parse(b.start));
    // Log scale: a bucket with one point stays visible beside one with a million.
    const hgt = 6 + (Math.log1p(b.count) / Math.log1p(max)) * (H - AXIS - 12);
    const bar = svg('rect', { x: Math.min(bx, W - 4), y: H - AXIS - hgt, width: Math.max(4, x(from + t.bucketMs)), height: hgt, class: 'bar', 'data-first-seq': b.firstSeq, 'data-last-seq': b.lastSeq });
    const title = svg('title');
    title.textContent = `${b.count} point(s), seq:${b.firstSeq}–seq:${b.lastSeq}, last at ${new Date(b.lastTime).toLocaleString()} (${b.lastTime})`;
    bar.append(title);
    bar.addEventListener('click', (e) => { e.stopPropagation(); if (!dragged) ev.choose({ seq: b.lastSeq }); });
    bars.push(bar);
    chart.append(bar);
  }
  for (const b of t.bookmarks) {
    const mx = x(Date.parse(b.time));
    const mark = svg('path', { d: `M${mx - 6},0 L${mx + 6},0 L${mx},10 Z`, class: `bookmark ${b.consistency}` });
    const title = svg('title');
    title.textContent = `bookmark ${b.name} (seq:${b.seq}, ${b.consistency}) at ${new Date(b.time).toLocaleString()}`;
    mark.append(title);
    mark.addEventListener('click', (e) => { e.stopPropagation(); if (!dragged) ev.choose({ seq: b.seq }); });
    chart.append(mark);
  }
  if (selected !== null && selected >= from && selected <= to) {
    chart.append(svg('line', { x1: x(selected), x2: x(selected), y1: 0, y2: H - AXIS, class: 'selected' }));
  }
  for (let i = 0; i <= 4; i++) {
    const tm = from + ((to - from) * i) / 4;
    const label = svg('text', { x: Math.min(W - 2, Math.max(2, x(tm))), y: H - 5, class: 'tick', 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' });
    label.textContent = new Date(tm).toLocaleString();
    chart.append(label);
  }
  // Drag across the chart to zoom into that span; a click (no drag) chooses a moment.
  const timeAt = (clientX: number): number => {
    const r = chart.getBoundingClientRect();
    return Math.round(from + ((clientX - r.left) / r.width) * (to - from));
  };
  const band = svg('rect', { x: 0, y: 0, width: 0, height: H - AXIS, class: 'drag', visibility: 'hidden' });
  chart.append(band);
  chart.addEventListener('pointerdown', (e) => { dragFrom = e.clientX; dragged = false; });
  chart.addEventListener('pointermove', (e) => {
    if (dragFrom === null || Math.abs(e.clientX - dragFrom) < 6) return;
    dragged = true;
    const a = x(timeAt(Math.min(dragFrom, e.clientX))), b = x(timeAt(Math.max(dragFrom, e.clientX)));
    band.setAttribute('x', String(a));
    band.setAttribute('width', String(b - a));
    band.setAttribute('visibility', 'visible');
  });
  chart.addEventListener('pointerup', (e) => {
    if (dragFrom !== null && dragged) {
      const a = timeAt(Math.min(dragFrom, e.clientX)), b = timeAt(Math.max(dragFrom, e.clientX));
      dragFrom = null;
      ev.zoom(a, b);
      return;
    }
    dragFrom = null;
  });
  chart.addEventListener('click', (e) => {
    if (!dragged) ev.choose({ time: timeAt(e.clientX) });
  });
  let focus = bars.length - 1;
  chart.addEventListener('keydown', (e) => {
    const centre = selected ?? (from + to) / 2;
    const span = to - from;
    if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      focus = Math.max(0, Math.min(bars.length - 1, focus + (e.key === 'ArrowLeft' ? -1 : 1)));
      bars.forEach((b, i) => b.classList.toggle('focused', i === focus));
      e.preventDefault();
    } else if (e.key === 'Enter' && bars[focus]) {
      ev.choose({ seq: Number(bars[focus]!.getAttribute('data-last-seq')) });
    } else if (e.key === '+' || e.key === '=') {
      ev.zoom(centre - span / 4, centre + span / 4);
    } else if (e.key === '-') {
      ev.zoom(centre - span, centre + span);
    }
  });
  return chart;
}
