// Reading the parts of the documentation that the docs-drift specs check:
// fenced code blocks, pipe tables between marker comments, and the
// repository paths a page cites. Pure functions over a page's text, so the
// unit specs (files only) and the integration spec (examples applied to the
// cluster) read the pages the same way.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../../support/cluster.js';

/** A page of the documentation: its path from the repository root and its text. */
export interface Page {
  file: string;
  text: string;
}

/** Every Markdown page a user reads: README.md and docs/ (runbooks included). */
export function documentationPages(): Page[] {
  const files = ['README.md'];
  const walk = (dir: string) => {
    for (const entry of readdirSync(path.join(repoRoot, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (entry.name.endsWith('.md')) files.push(rel);
    }
  };
  walk('docs');
  return files.sort().map((file) => readPage(file));
}

export function readPage(file: string): Page {
  return { file, text: readFileSync(path.join(repoRoot, file), 'utf8') };
}

export interface CodeBlock {
  /** The fence's info string (yaml, sh, text...), empty when none. */
  lang: string;
  /** The block's lines, without the fence's indentation. */
  text: string;
  /** 1-based line of the opening fence. */
  line: number;
}

/** The fenced code blocks of a page, also those indented inside list items. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})\s*([\w-]*)/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !new RegExp(`^\\s*${fence}\\s*$`).test(lines[j])) {
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j].trimStart());
      j++;
    }
    if (j === lines.length) throw new Error(`line ${i + 1}: a code block that never closes`);
    blocks.push({ lang, text: body.join('\n'), line: i + 1 });
    i = j;
  }
  return blocks;
}

export interface TableRow {
  /** 1-based line of the row. */
  line: number;
  /** Cells keyed by header, trimmed, backticks kept. */
  cells: Record<string, string>;
}

/**
 * The pipe table right after the comment `<!-- NAME ... -->` (and before
 * `<!-- /NAME -->`), read by header. Throws when the markers, the header or
 * the separator are missing, or a row has the wrong number of cells.
 */
export function markedTable(markdown: string, name: string): TableRow[] {
  const lines = markdown.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`<!-- ${name}`));
  const end = lines.findIndex((l) => l.startsWith(`<!-- /${name} -->`));
  if (start < 0 || end < start) throw new Error(`the <!-- ${name} --> ... <!-- /${name} --> markers are missing`);
  const split = (l: string) => splitRow(l);
  const tableLines = lines
    .slice(start + 1, end)
    .map((text, i) => ({ text, line: start + 2 + i }))
    .filter((l) => l.text.trim() !== '');
  const [header, separator, ...rows] = tableLines;
  if (header === undefined || separator === undefined) throw new Error(`the ${name} table has no header`);
  const names = split(header.text);
  if (!split(separator.text).every((c) => /^:?-{3,}:?$/.test(c))) throw new Error(`the ${name} table has no separator row`);
  return rows.map(({ text, line }) => {
    const cells = split(text);
    if (cells.length !== names.length) throw new Error(`line ${line}: ${cells.length} cells, the ${name} header has ${names.length}`);
    return { line, cells: Object.fromEntries(names.map((n, i) => [n, cells[i]])) };
  });
}

/** A table row's cells; a pipe inside backticks (`a|b`) stays in its cell. */
function splitRow(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let code = false;
  const text = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  for (const ch of text) {
    if (ch === '`') code = !code;
    if (ch === '|' && !code) {
      cells.push(cell.trim());
      cell = '';
    } else cell += ch;
  }
  cells.push(cell.trim());
  return cells;
}

/** The text between backticks, in order: `a` and `b` in "`a` or `b`". */
export function inlineCode(text: string): string[] {
  return [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]);
}

/** Top folders of the repository whose files pages cite by path. */
const CITED_ROOTS = ['bench', 'bundle', 'config', 'docs', 'hack', 'make', 'packages', 'scripts', 'src', 'test'];

export interface Citation {
  /** The path as the page writes it, from the repository root, braces expanded. */
  path: string;
  line: number;
}

/**
 * The repository paths a page cites: inline code that starts with one of the
 * repository's top folders, and relative link targets (resolved against the
 * page's folder). A `{a,b}` group is expanded; a trailing `:LINE` or
 * `#anchor` is dropped; placeholders (`<name>`, `...`) are left out.
 */
export function citedPaths(page: Page): Citation[] {
  const found: Citation[] = [];
  page.text.split('\n').forEach((text, i) => {
    const line = i + 1;
    for (const code of inlineCode(text)) {
      const candidate = code.split(/\s/)[0];
      if (CITED_ROOTS.some((root) => candidate.startsWith(`${root}/`))) found.push(...expand(candidate).map((p) => ({ path: p, line })));
    }
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1];
      if (/^[a-z]+:/.test(target) || target.startsWith('#')) continue;
      const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(page.file), target.split('#')[0]));
      found.push({ path: resolved, line });
    }
  });
  return found
    .map((c) => ({ ...c, path: c.path.replace(/#.*$/, '').replace(/:\d+(-\d+)?$/, '').replace(/[.,;:]$/, '') }))
    .filter((c) => !/[<>]|\.\.\.|\$/.test(c.path));
}

/** `a/{b,c}/d` → `a/b/d`, `a/c/d` (one group). */
function expand(text: string): string[] {
  const m = /^(.*?)\{([^{}]*)\}(.*)$/.exec(text);
  if (!m) return [text];
  return m[2].split(',').flatMap((alt) => expand(`${m[1]}${alt}${m[3]}`));
}

/** A `*` in the last segment matches any run of characters but `/`. */
export function globToRegExp(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*');
  return new RegExp(`^${escaped}$`);
}
