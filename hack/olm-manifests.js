#!/usr/bin/env node
/* global console, process -- a Node.js script */
// Rewrites OLM v0's release manifests (olm.yaml of the quickstart) for a
// cluster whose images come from our own builds:
//   node hack/olm-manifests.js OLM_YAML OLM_IMG OPM_IMG > olm.local.yaml
// Every container image of OLM's (the olm, catalog and packageserver
// deployments, the catalog operator's -util-image) becomes OLM_IMG; the
// catalog operator gets -opmImage=OPM_IMG for the bundle-unpack job; the
// public operatorhubio CatalogSource is dropped. Anything else unexpected
// (an image we do not know) is an error, so a new OLM release cannot slip a
// public image in.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';

const OLM_REPO = 'quay.io/operator-framework/olm';

export function localizeOlm(docs, { olmImage, opmImage }) {
  const isOlm = (image) => image === OLM_REPO || image.startsWith(`${OLM_REPO}@`) || image.startsWith(`${OLM_REPO}:`);
  const fixContainers = (containers, where) => {
    for (const c of containers ?? []) {
      if (!isOlm(c.image)) throw new Error(`${where}: container ${c.name} runs ${c.image}, not OLM's image`);
      c.image = olmImage;
      // The quickstart writes the catalog operator's flags with one dash
      // (-namespace, -util-image), which its cobra command line reads as
      // shorthands and rejects ("unknown shorthand flag: 'n' in -namespace"):
      // long flags get two, as OLM's own Helm chart writes them.
      c.args = (c.args ?? []).map((a) => a.trim()).map((a) => (/^-[A-Za-z]{2,}/.test(a) ? `-${a}` : a));
      c.args = c.args.map((a, i, all) => (i > 0 && all[i - 1] === '--util-image' ? olmImage : a));
      if (c.name === 'catalog-operator') {
        c.args = c.args.filter((a) => !a.startsWith('--opmImage'));
        c.args.push(`--opmImage=${opmImage}`);
      }
    }
  };
  const out = [];
  for (const doc of docs) {
    if (!doc) continue;
    const where = `${doc.kind} ${doc.metadata?.namespace ?? ''}/${doc.metadata?.name}`;
    if (doc.kind === 'CatalogSource') continue; // the public operatorhubio catalog
    if (doc.kind === 'Deployment') fixContainers(doc.spec.template.spec.containers, where);
    if (doc.kind === 'ClusterServiceVersion') {
      for (const d of doc.spec.install.spec.deployments) fixContainers(d.spec.template.spec.containers, `${where} deployment ${d.name}`);
    }
    out.push(doc);
  }
  const leftover = JSON.stringify(out).match(/quay\.io\/[^"\s]*/g)?.filter((i) => !i.startsWith('quay.io/operator-framework/configmap-operator-registry'));
  if (leftover?.length) throw new Error(`public images left in OLM's manifests: ${[...new Set(leftover)].join(', ')}`);
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    const [file, olmImage, opmImage] = process.argv.slice(2);
    if (!file || !olmImage || !opmImage) throw new Error('usage: olm-manifests.js OLM_YAML OLM_IMG OPM_IMG');
    const docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS());
    process.stdout.write(localizeOlm(docs, { olmImage, opmImage }).map((d) => stringify(d, { lineWidth: 0 })).join('---\n'));
  } catch (err) {
    console.error(`olm-manifests: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
