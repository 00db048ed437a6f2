// docs/operating.md against the options parser: every flag and environment
// variable the operator accepts is documented, and the flags block names no
// flag the operator would refuse. The lists come from the parser's own
// definition, through the usage text it builds from it (--help).
import { expect } from 'chai';
import { usage } from '../../../src/options.js';
import { codeBlocks, readPage } from './markdown.js';

/** The flags a usage text lists (`  --name <kind>   help`), without the dashes. */
export function flagsOfUsage(text: string): string[] {
  return [...text.matchAll(/^ {2}--([a-z0-9][a-z0-9-]*)/gm)].map((m) => m[1]);
}

/** The environment variables a usage text lists under "Environment:". */
export function environmentOfUsage(text: string): string[] {
  const [, section = ''] = text.split(/^Environment:$/m);
  return [...section.matchAll(/^ {2}([A-Z][A-Z0-9_]*(?:, [A-Z][A-Z0-9_]*)*) {2,}/gm)].flatMap((m) => m[1].split(', '));
}

/** The names a page mentions as `--name` (not as part of a longer name). */
export function flagsMentioned(text: string): Set<string> {
  return new Set([...text.matchAll(/(?<![\w-])--([a-z0-9][a-z0-9-]*[a-z0-9])(?![\w-])/g)].map((m) => m[1]));
}

describe('docs/operating.md and the options parser', () => {
  const page = readPage('docs/operating.md');
  const flags = flagsOfUsage(usage());
  const environment = environmentOfUsage(usage());

  it('the parser lists its flags and environment (so the checks below check something)', () => {
    expect(flags).to.include.members(['kubeconfig', 'leader-elect', 'help', 'version']);
    expect(flags.length).to.be.at.least(20);
    expect(environment).to.include.members(['WATCH_NAMESPACE', 'RELATED_IMAGE_MEMCACHED', 'POD_NAME', 'POD_NAMESPACE']);
  });

  it('documents every flag the parser accepts', () => {
    const mentioned = flagsMentioned(page.text);
    const missing = flags.filter((f) => !mentioned.has(f)).map((f) => `${page.file}: --${f}`);
    expect(missing, `flags the operator accepts that ${page.file} does not document`).to.deep.equal([]);
  });

  it('documents every environment variable the operator reads', () => {
    const missing = environment.filter((name) => !new RegExp(`\\b${name}\\b`).test(page.text)).map((name) => `${page.file}: ${name}`);
    expect(missing, `environment variables that ${page.file} does not document`).to.deep.equal([]);
  });

  it('its flags block names only flags the parser accepts', () => {
    const block = codeBlocks(page.text).find((b) => b.lang === 'text' && /^--/m.test(b.text));
    expect(block, `${page.file} has no text block listing the flags`).to.not.equal(undefined);
    const unknown = [...flagsMentioned(block!.text)].filter((f) => !flags.includes(f)).map((f) => `${page.file}:${block!.line}: --${f}`);
    expect(unknown, 'flags the operator would refuse').to.deep.equal([]);
  });
});

describe('reading a usage text', () => {
  const text = [
    'Usage: x [flags]',
    '',
    'Flags:',
    '  --kubeconfig <string>    Path.',
    '  --leader-elect           Elect. --leader-elect=false is the default.',
    '',
    'Environment:',
    '  WATCH_NAMESPACE          Namespaces.',
    '  POD_NAME, POD_NAMESPACE  This pod.',
  ].join('\n');

  it('lists the flags at the start of a line, not those inside a help text', () => {
    expect(flagsOfUsage(text)).to.deep.equal(['kubeconfig', 'leader-elect']);
  });

  it('lists the environment variables, splitting a shared line', () => {
    expect(environmentOfUsage(text)).to.deep.equal(['WATCH_NAMESPACE', 'POD_NAME', 'POD_NAMESPACE']);
    expect(environmentOfUsage('Flags:\n  --a   b')).to.deep.equal([]);
  });

  it('finds a mentioned flag whole: --leader-elect is not --leader-election-id', () => {
    expect([...flagsMentioned('`--leader-election-id <name>`, see --leader-elect.')]).to.deep.equal(['leader-election-id', 'leader-elect']);
    expect(flagsMentioned('--leader-election-*').has('leader-election')).to.equal(false);
  });
});
