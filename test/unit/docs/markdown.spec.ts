// The page readers the docs-drift specs share.
import { expect } from 'chai';
import { citedPaths, codeBlocks, globToRegExp, inlineCode, markedTable } from './markdown.js';

describe('docs: reading pages', () => {
  it('finds fenced blocks with their language and line, also indented in a list', () => {
    const text = ['intro', '```yaml', 'a: 1', '```', '- item:', '  ```sh', '  make x', '    indented', '  ```', '````text', '```', '````'].join('\n');
    expect(codeBlocks(text)).to.deep.equal([
      { lang: 'yaml', text: 'a: 1', line: 2 },
      { lang: 'sh', text: 'make x\n  indented', line: 6 },
      { lang: 'text', text: '```', line: 10 },
    ]);
    expect(() => codeBlocks('```\nnever closed')).to.throw(/line 1/);
  });

  it('reads a marked table by header, keeping pipes inside code', () => {
    const text = ['<!-- t: checked -->', '| A | B |', '| --- | :---: |', '| `x|y` | z |', '<!-- /t -->'].join('\n');
    expect(markedTable(text, 't')).to.deep.equal([{ line: 4, cells: { A: '`x|y`', B: 'z' } }]);
  });

  it('rejects missing markers, a missing separator and ragged rows', () => {
    expect(() => markedTable('no table', 't')).to.throw(/markers/);
    expect(() => markedTable('<!-- t -->\n| A |\n| x |\n<!-- /t -->', 't')).to.throw(/separator/);
    expect(() => markedTable('<!-- t -->\n| A | B |\n| --- | --- |\n| x |\n<!-- /t -->', 't')).to.throw(/line 4: 1 cells/);
  });

  it('reads inline code', () => {
    expect(inlineCode('`a` or `b c`, not ``')).to.deep.equal(['a', 'b c']);
  });

  it('finds cited paths in code and links, expands braces, drops line numbers and placeholders', () => {
    const page = {
      file: 'docs/x.md',
      text: [
        'See `src/main.ts:175-210`, `test/{unit,e2e}/a.ts` and `make deploy`.',
        '[latest](../bench/results/latest.md#top), [site](https://example.com), [here](#anchor)',
        '`docs/runbooks/<Alert>.md`, `config/prometheus/rules/memcached-alerts.yaml`.',
      ].join('\n'),
    };
    expect(citedPaths(page)).to.deep.equal([
      { path: 'src/main.ts', line: 1 },
      { path: 'test/unit/a.ts', line: 1 },
      { path: 'test/e2e/a.ts', line: 1 },
      { path: 'bench/results/latest.md', line: 2 },
      { path: 'config/prometheus/rules/memcached-alerts.yaml', line: 3 },
    ]);
  });

  it('matches a * within one path segment', () => {
    expect(globToRegExp('latest.*').test('latest.json')).to.equal(true);
    expect(globToRegExp('can-i-*.txt').test('can-i-x.txt')).to.equal(true);
    expect(globToRegExp('a.*').test('b.json')).to.equal(false);
  });
});
