// What the packaging and the pages claim, against where it is decided: the
// Kubernetes version the CSV and the pages require is the one the test beds
// run, and the shipped PrometheusRule holds the operator's alerts as the rule
// file does, in make deploy's namespace with its name prefix.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from '../../support/cluster.js';
import { documentationPages } from './markdown.js';

const read = (file: string) => readFileSync(path.join(repoRoot, file), 'utf8');
const yamlOf = <T>(file: string) => parseYaml(read(file)) as T;

/** NAME=value lines of an env file. */
export function envFile(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/^([A-Z_][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1], m[2].trim()]));
}

/** "1.36" from v1.36.3, 1.36.0 or 1.36. */
export function minorOf(version: string): string {
  const m = /^v?(\d+)\.(\d+)(\.\d+)?$/.exec(version);
  if (!m) throw new Error(`"${version}" is not a Kubernetes version`);
  return `${m[1]}.${m[2]}`;
}

interface Rule {
  alert?: string;
}
interface RuleGroup {
  name: string;
  rules: Rule[];
}

describe('claims that follow the code', () => {
  const csv = yamlOf<{ spec: { minKubeVersion: string } }>('config/manifests/bases/memcached-operator.clusterserviceversion.yaml');
  const tested = minorOf(envFile(read('test/cluster/versions.env')).KUBE_VERSION);

  it('the CSV\'s minKubeVersion is the Kubernetes the test beds run (test/cluster/versions.env)', () => {
    expect(minorOf(csv.spec.minKubeVersion)).to.equal(tested);
  });

  it('every page that states a minimum Kubernetes states that one', () => {
    const claims = documentationPages().flatMap((page) =>
      page.text.split('\n').flatMap((line, i) => [...line.matchAll(/Kubernetes (\d+\.\d+) or newer/g)].map((m) => ({ where: `${page.file}:${i + 1}`, minor: m[1] }))),
    );
    expect(claims.length, 'no page states the minimum Kubernetes').to.be.at.least(1);
    expect(claims.filter((c) => c.minor !== tested).map((c) => `${c.where}: Kubernetes ${c.minor}, the tests run ${tested}`)).to.deep.equal([]);
  });

  describe('the operator\'s alerts as a PrometheusRule', () => {
    const rule = yamlOf<{ kind: string; spec: { groups: RuleGroup[] } }>('config/prometheus/alerts/alerts.yaml');
    const ruleFile = yamlOf<{ groups: RuleGroup[] }>('config/prometheus/rules/memcached-alerts.yaml');

    it('holds the operator group of the rule file, and only it (make alerts writes both)', () => {
      expect(rule.kind).to.equal('PrometheusRule');
      const operatorGroup = ruleFile.groups.find((g) => g.name === 'memcached-operator');
      expect(operatorGroup?.rules.map((r) => r.alert)).to.have.length(3);
      expect(rule.spec.groups).to.deep.equal([operatorGroup]);
    });

    it('is placed by config/default/alerts where make deploy puts the operator', () => {
      type Kustomization = { namespace?: string; namePrefix?: string; components?: string[] };
      const deploy = yamlOf<Kustomization>('config/default/kustomization.yaml');
      const alerts = yamlOf<Kustomization>('config/default/alerts/kustomization.yaml');
      expect({ namespace: alerts.namespace, namePrefix: alerts.namePrefix }).to.deep.equal({ namespace: deploy.namespace, namePrefix: deploy.namePrefix });
      expect(alerts.components).to.deep.equal(['../../prometheus/alerts']);
      const bundle = yamlOf<{ resources: string[] }>('config/manifests/kustomization.yaml');
      expect(bundle.resources, 'the bundle ships the alerts').to.include('../default/alerts');
    });
  });
});

describe('reading versions', () => {
  it('reads env lines and Kubernetes minors', () => {
    expect(envFile('# c\nKUBE_VERSION=v1.36.3\nX=1')).to.deep.equal({ KUBE_VERSION: 'v1.36.3', X: '1' });
    expect(['v1.36.3', '1.36.0', '1.36'].map(minorOf)).to.deep.equal(['1.36', '1.36', '1.36']);
    expect(() => minorOf('latest')).to.throw(/not a Kubernetes version/);
  });
});
