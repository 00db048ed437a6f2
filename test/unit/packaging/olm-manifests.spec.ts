// OLM's release manifests rewritten for local images (hack/olm-manifests.js,
// used by make olm-install): images, the catalog operator's flags, the public
// CatalogSource, and the refusal of an image it does not know.
import { expect } from 'chai';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot } from '../../support/cluster.js';

type Doc = Record<string, unknown>;
interface OlmManifests {
  localizeOlm(docs: Doc[], images: { olmImage: string; opmImage: string }): Doc[];
}
const load = (): Promise<OlmManifests> => import(pathToFileURL(path.join(repoRoot, 'hack', 'olm-manifests.js')).href) as Promise<OlmManifests>;

const UPSTREAM = 'quay.io/operator-framework/olm@sha256:e74b2ac57963c7f3ba19122a8c31c9f2a0deb3c0c5cac9e5323ccffd0ca198ed';
const deployment = (name: string, image: string, args: string[]): Doc => ({
  kind: 'Deployment',
  metadata: { name, namespace: 'olm' },
  spec: { template: { spec: { containers: [{ name, image, args }] } } },
});
const images = { olmImage: 'localhost:5001/olm:v0.38.0', opmImage: 'localhost:5001/opm:v1.61.0' };

describe('OLM release manifests for local images', () => {
  it('points every OLM container and the util image at ours, sets --opmImage, and gives long flags two dashes', async () => {
    const docs = [
      deployment('olm-operator', UPSTREAM, ['--namespace', 'olm']),
      deployment('catalog-operator', UPSTREAM, ['-namespace', 'olm', '-util-image', ` ${UPSTREAM}`, '-v=4']),
    ];
    const out = (await load()).localizeOlm(docs, images) as { spec: { template: { spec: { containers: { image: string; args: string[] }[] } } } }[];
    expect(out.map((d) => d.spec.template.spec.containers[0].image)).to.deep.equal([images.olmImage, images.olmImage]);
    expect(out[1].spec.template.spec.containers[0].args).to.deep.equal(['--namespace', 'olm', '--util-image', images.olmImage, '-v=4', `--opmImage=${images.opmImage}`]);
  });

  it('drops the public operatorhubio CatalogSource', async () => {
    const out = (await load()).localizeOlm([{ kind: 'CatalogSource', metadata: { name: 'operatorhubio-catalog' }, spec: { image: 'quay.io/operatorhubio/catalog:latest' } }], images);
    expect(out).to.deep.equal([]);
  });

  it('refuses a container image that is not OLM\'s', async () => {
    const l = await load();
    expect(() => l.localizeOlm([deployment('x', 'docker.io/library/busybox', [])], images)).to.throw(/not OLM's image/);
  });
});
