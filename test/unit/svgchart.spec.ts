import { expect } from 'chai';
import { escapeXml, plotAreas, renderSvgChart, ticks, type ChartOptions } from '../support/svgchart.js';

const T0 = Date.UTC(2025, 0, 1);
const MIN = 60_000;

/**
 * A tiny well-formedness check (no XML parser among our dependencies): the
 * tags balance, attributes are double-quoted, and text holds no raw < or a
 * bare &. Returns the element names in document order.
 */
function wellFormed(xml: string): string[] {
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  const open: string[] = [];
  const names: string[] = [];
  let last = 0;
  for (let m = tag.exec(body); m; m = tag.exec(body)) {
    checkText(body.slice(last, m.index));
    last = tag.lastIndex;
    const [, closing, name, , selfClosing] = m;
    if (closing) {
      const top = open.pop();
      if (top !== name) throw new Error(`</${name}> closes <${top}>`);
    } else {
      names.push(name);
      if (!selfClosing) open.push(name);
    }
    if (open.length === 0 && last < body.trimEnd().length) throw new Error(`content after the root element: ${body.slice(last, last + 40)}`);
  }
  checkText(body.slice(last));
  if (open.length) throw new Error(`unclosed: ${open.join(', ')}`);
  return names;
}

function checkText(text: string): void {
  if (/[<>]/.test(text)) throw new Error(`a raw < or > outside a tag: ${text.slice(0, 60)}`);
  if (/&(?!(amp|lt|gt|quot|apos);)/.test(text)) throw new Error(`a bare & in text: ${text.slice(0, 60)}`);
}

/** Every x,y pair of the chart's lines and dots. */
function seriesPoints(svg: string): [number, number][] {
  const lines = [...svg.matchAll(/<polyline class="series"[^>]* points="([^"]*)"/g)]
    .flatMap((m) => m[1].split(' ').map((p) => p.split(',').map(Number) as [number, number]));
  const dots = [...svg.matchAll(/<circle class="series" cx="([^"]*)" cy="([^"]*)"/g)].map((m) => [Number(m[1]), Number(m[2])] as [number, number]);
  return [...lines, ...dots];
}

const run: ChartOptions = {
  title: 'auto pilot: scale out on evictions',
  panels: [
    { title: 'replicas', series: [{ name: 'replicas', step: true, points: [{ at: T0, value: 1 }, { at: T0 + 3 * MIN, value: 2 }, { at: T0 + 6 * MIN, value: 3 }] }] },
    {
      title: 'memory per server (MB)',
      series: [
        { name: 'server-0', points: [{ at: T0, value: 10 }, { at: T0 + 2 * MIN, value: 64 }, { at: T0 + 6 * MIN, value: 40 }] },
        { name: 'server-1', points: [{ at: T0 + 3 * MIN, value: 5 }, { at: T0 + 6 * MIN, value: 38 }] },
      ],
    },
    { title: 'hit ratio %', yMin: 0, yMax: 100, series: [{ name: 'hit ratio', points: [{ at: T0, value: 50 }, { at: T0 + MIN, value: NaN }, { at: T0 + 2 * MIN, value: 120 }, { at: T0 + 4 * MIN, value: 90 }] }] },
  ],
  markers: [{ at: T0 + 3 * MIN, label: 'scaled out' }, { at: T0 + 6 * MIN, label: 'scaled out' }],
};

describe('svgchart (the auto pilot spec\'s record of a run)', () => {
  it('the well-formedness check itself rejects broken XML', () => {
    expect(wellFormed('<svg><g class="a"><line/></g></svg>')).to.deep.equal(['svg', 'g', 'line']);
    expect(() => wellFormed('<svg><g></svg>')).to.throw(/closes/);
    expect(() => wellFormed('<svg><g>')).to.throw(/unclosed/);
    expect(() => wellFormed('<svg>a < b</svg>')).to.throw(/raw </);
    expect(() => wellFormed('<svg>a & b</svg>')).to.throw(/bare &/);
    expect(() => wellFormed('<svg x=1></svg>')).to.throw(/raw </);
    expect(() => wellFormed('<svg></svg><svg></svg>')).to.throw(/after the root/);
  });

  it('renders a well-formed standalone SVG: one panel group per panel, a legend entry per series, a marker per event', () => {
    const svg = renderSvgChart(run);
    const names = wellFormed(svg);
    expect(names[0]).to.equal('svg');
    expect(svg).to.match(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg" /);
    expect(svg.match(/<g class="panel">/g)).to.have.length(3);
    expect(svg.match(/<g class="legend">/g)).to.have.length(4);
    expect(svg.match(/<g class="marker">/g)).to.have.length(2);
    expect(svg).to.include('>minutes from the start</text>');
  });

  it('places every point inside its panel\'s plot area, values beyond a fixed y range clamped to its edge', () => {
    const svg = renderSvgChart(run);
    const areas = plotAreas(run);
    const inside = (x: number, y: number): boolean => areas.some((a) => x >= a.x && x <= a.x + a.width && y >= a.y && y <= a.y + a.height);
    const points = seriesPoints(svg);
    expect(points.length).to.be.greaterThan(8);
    for (const [x, y] of points) expect(inside(x, y), `${x},${y}`).to.equal(true);
    const hit = areas[2];
    expect(points.some(([, y]) => y === hit.y), 'the 120 % clamped to the top').to.equal(true);
    expect(points.filter(([x]) => x === areas[0].x)).to.not.have.length(0);
    expect(points.filter(([x]) => x === areas[0].x + areas[0].width)).to.not.have.length(0);
  });

  it('a step series turns its corners at the next point; a non-finite value breaks the line', () => {
    const svg = renderSvgChart(run);
    const [replicas] = [...svg.matchAll(/<polyline class="series"[^>]* points="([^"]*)"/g)].map((m) => m[1].split(' '));
    expect(replicas).to.have.length(5);
    expect(replicas[1].split(',')[0]).to.equal(replicas[2].split(',')[0]);
    expect(replicas[1].split(',')[1]).to.equal(replicas[0].split(',')[1]);
    // hit ratio: 50 alone (a dot), then 120 and 90 (a line)
    expect(svg.match(/<circle class="series"/g)).to.have.length(1);
    expect(svg.match(/<polyline class="series"/g)).to.have.length(4);
  });

  it('escapes the text it writes', () => {
    const svg = renderSvgChart({
      title: 'a <b> & "c"',
      panels: [{ title: "it's < 1", series: [{ name: '<script>', colour: '"red"', points: [{ at: T0, value: 1 }, { at: T0 + MIN, value: 2 }] }] }],
      markers: [{ at: T0, label: 'x & y' }],
    });
    wellFormed(svg);
    expect(svg).to.include('<title>a &lt;b&gt; &amp; &quot;c&quot;</title>');
    expect(svg).to.include('it&apos;s &lt; 1');
    expect(svg).to.include('&lt;script&gt;');
    expect(svg).to.include('stroke="&quot;red&quot;"');
    expect(svg).to.include('x &amp; y');
    expect(escapeXml(`&<>"'`)).to.equal('&amp;&lt;&gt;&quot;&apos;');
  });

  it('empty series: a panel without points says "no data", a series without points says so in its legend', () => {
    const svg = renderSvgChart({
      title: 'empty',
      panels: [
        { title: 'evictions/s', series: [{ name: 'evictions', points: [] }] },
        { title: 'replicas', series: [{ name: 'replicas', points: [{ at: T0, value: 1 }, { at: T0 + MIN, value: 1 }] }, { name: 'desired', points: [] }] },
      ],
    });
    wellFormed(svg);
    expect(svg.match(/class="no-data"/g)).to.have.length(1);
    expect(svg).to.include('>evictions (no data)</text>');
    expect(svg).to.include('>desired (no data)</text>');
    const nothing = renderSvgChart({ title: 'nothing yet', panels: [{ title: 'replicas', series: [] }] });
    wellFormed(nothing);
    expect(nothing).to.include('>no data</text>');
  });

  it('bad input gets a clear error', () => {
    expect(() => renderSvgChart({ title: 'none', panels: [] })).to.throw(/chart "none": no panels to draw/);
    expect(() => renderSvgChart({ title: 't', panels: [{ title: 'p', series: [{ name: 's', points: [{ at: NaN, value: 1 }] }] }] }))
      .to.throw(/chart series "s": a point without a finite time/);
    expect(() => renderSvgChart({ title: 't', panels: [{ title: 'p', yMin: 5, yMax: 5, series: [] }] })).to.throw(/chart panel "p": yMax \(5\) must be above yMin \(5\)/);
    expect(() => renderSvgChart({ title: 't', panels: [{ title: 'p', series: [] }], markers: [{ at: Infinity, label: 'm' }] })).to.throw(/chart marker "m"/);
  });

  it('axes: minutes from the start along x; an automatic y range ends on a labelled tick', () => {
    const svg = renderSvgChart(run);
    const xLabels = [...svg.matchAll(/text-anchor="middle">(\d+)<\/text>/g)].map((m) => Number(m[1]));
    expect(xLabels).to.deep.equal([0, 1, 2, 3, 4, 5, 6]);
    const gets = renderSvgChart({ title: 'g', panels: [{ title: 'gets/s', series: [{ name: 'gets/s', points: [{ at: T0, value: 4990 }, { at: T0 + MIN, value: 5004 }] }] }] });
    const yLabels = [...gets.matchAll(/text-anchor="end">([\d.]+)<\/text>/g)].map((m) => Number(m[1]));
    expect(yLabels).to.deep.equal([0, 2000, 4000, 6000]);
  });

  it('ticks: round steps of 1, 2 or 5 times a power of ten, covering the range', () => {
    const table: [number, number, number, number[]][] = [
      [0, 3, 4, [0, 1, 2, 3]],
      [0, 100, 4, [0, 50, 100]],
      [0, 64, 4, [0, 20, 40, 60]],
      [0, 1, 4, [0, 0.5, 1]],
      [0, 0.7, 4, [0, 0.2, 0.4, 0.6]],
      [-10, 10, 4, [-10, -5, 0, 5, 10]],
      [0, 12.5, 8, [0, 2, 4, 6, 8, 10, 12]],
    ];
    for (const [min, max, count, want] of table) expect(ticks(min, max, count), `${min}..${max}`).to.deep.equal(want);
  });
});
