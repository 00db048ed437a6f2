// docs/benchmarks.md shows the latest run: its summary block is
// bench/results/latest.md as the last make bench wrote it (headings one
// level down, the chart's path from docs/).
import { expect } from 'chai';
import { readPage } from './markdown.js';

const START = '<!-- latest-summary: copied from bench/results/latest.md -->';

/** latest.md as the page embeds it: without its title, headings one level down, links from docs/. */
export function asEmbedded(latest: string): string {
  return latest
    .replace(/^# .*\n+/, '')
    .replace(/^## /gm, '### ')
    .replace(/\]\((?!https?:|\.\.\/|#)([^)]+)\)/g, '](../bench/results/$1)')
    .trim();
}

/** The page's copy: from the marker to the next second-level heading. */
export function embeddedSummary(page: string): string {
  const start = page.indexOf(START);
  if (start < 0) throw new Error(`no "${START}" marker`);
  const rest = page.slice(start + START.length);
  const end = rest.search(/^## /m);
  return (end < 0 ? rest : rest.slice(0, end)).trim();
}

describe('docs/benchmarks.md and the latest run', () => {
  it('embeds bench/results/latest.md as it stands', () => {
    const page = readPage('docs/benchmarks.md');
    const latest = readPage('bench/results/latest.md');
    expect(embeddedSummary(page.text), `${page.file}'s latest-summary block differs from ${latest.file}: copy it again`).to.equal(asEmbedded(latest.text));
  });

  it('rebases links and demotes headings', () => {
    expect(asEmbedded('# T\n\nx\n## A\n![c](latest.svg) [p](PROFILE.md) [w](https://x/y)\n')).to.equal('x\n### A\n![c](../bench/results/latest.svg) [p](../bench/results/PROFILE.md) [w](https://x/y)');
    expect(embeddedSummary(`a\n${START}\n\nbody\n### B\n## Next\nz`)).to.equal('body\n### B');
    expect(() => embeddedSummary('none')).to.throw(/marker/);
  });
});
