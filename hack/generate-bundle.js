#!/usr/bin/env node
/* global console, process, structuredClone -- a Node.js script */
// Generates the OLM bundle (registry+v1) from config/manifests, deterministically:
//
//   node hack/generate-bundle.js --version 0.1.0 --img quay.io/org/memcached-operator:v0.1.0 \
//     --channels alpha --default-channel alpha --created-at 2026-11-23T00:00:00Z \
//     [--memcached-img IMAGE] [--output DIR] [--dockerfile FILE]
//
// --memcached-img sets the manager's RELATED_IMAGE_MEMCACHED and so the CSV's
// relatedImages (a catalog for a private registry); without it the bundle
// names config/manager's default, the official image.
//
// Input: the kustomize output of config/manifests (hack/render.sh), which holds
// the CSV base, everything make deploy installs, the samples and the
// scorecard configuration. Output, replacing what was there:
//   bundle/manifests/   the CSV, the CRD and the extra objects OLM installs
//                       (OLM v0 creates them all or fails the InstallPlan: the
//                       PrometheusRule needs prometheus-operator's CRDs)
//   bundle/metadata/annotations.yaml
//   bundle/tests/scorecard/config.yaml
//   bundle.Dockerfile   with the same labels as annotations.yaml
// Nothing in bundle/ is edited by hand: change config/ and run make bundle.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs as parseFlags } from 'node:util';
import { parseAllDocuments, stringify } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const PACKAGE = 'memcached-operator';
const OPERATOR_CONTAINER = 'manager';
const OPERAND_IMAGE_ENV = 'RELATED_IMAGE_MEMCACHED';

class UsageError extends Error {}

const FLAGS = ['version', 'img', 'channels', 'default-channel', 'created-at', 'output', 'dockerfile', 'config', 'memcached-img'];

function parseArgs(argv) {
  const { values } = parseFlags({
    args: argv,
    options: Object.fromEntries(FLAGS.map((f) => [f, { type: 'string' }])),
    strict: true,
    allowPositionals: false,
  });
  const opts = { output: 'bundle', dockerfile: 'bundle.Dockerfile', config: 'config/manifests' };
  for (const [flag, value] of Object.entries(values)) opts[flag.replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = value;
  for (const required of ['version', 'img', 'channels', 'defaultChannel', 'createdAt']) {
    if (!opts[required]) throw new UsageError(`--${required.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())} is required`);
  }
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(opts.version)) throw new Error(`VERSION ${opts.version} is not semver`);
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(opts.createdAt)) throw new Error(`createdAt ${opts.createdAt} is not RFC 3339 UTC`);
  const channels = opts.channels.split(',').map((c) => c.trim()).filter(Boolean);
  if (!channels.includes(opts.defaultChannel)) throw new Error(`default channel ${opts.defaultChannel} is not in ${opts.channels}`);
  return { ...opts, channels };
}

const groupOf = (apiVersion) => (apiVersion.includes('/') ? apiVersion.split('/')[0] : '');
const versionOf = (apiVersion) => apiVersion.split('/').pop();
// YAML 1.1 output, so Go's YAML readers (OLM, operator-sdk) see strings such as
// createdAt as strings, not timestamps.
const dump = (obj) => stringify(obj, { lineWidth: 0, aliasDuplicateObjects: false, singleQuote: false, version: '1.1' });

function render(opts) {
  const out = execFileSync(path.join(root, 'hack', 'render.sh'), [opts.config, opts.img, opts.memcachedImg ?? ''], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  return parseAllDocuments(out).map((doc) => doc.toJS()).filter(Boolean);
}

function stripNamespace(obj) {
  const copy = structuredClone(obj);
  delete copy.metadata.namespace;
  return copy;
}

function one(list, what) {
  if (list.length !== 1) throw new Error(`expected exactly one ${what}, found ${list.length}`);
  return list[0];
}

function generate(opts) {
  const objects = render(opts);
  const csv = one(objects.filter((o) => o.kind === 'ClusterServiceVersion'), 'ClusterServiceVersion');
  const crds = objects.filter((o) => o.kind === 'CustomResourceDefinition');
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  const serviceAccounts = objects.filter((o) => o.kind === 'ServiceAccount');
  const roles = objects.filter((o) => o.kind === 'Role');
  const clusterRoles = objects.filter((o) => o.kind === 'ClusterRole');
  const roleBindings = objects.filter((o) => o.kind === 'RoleBinding');
  const clusterRoleBindings = objects.filter((o) => o.kind === 'ClusterRoleBinding');
  const ownedGroups = new Set(crds.map((c) => c.spec.group));
  const samples = objects.filter((o) => ownedGroups.has(groupOf(o.apiVersion)));
  const scorecard = one(objects.filter((o) => o.kind === 'Configuration' && groupOf(o.apiVersion) === 'scorecard.operatorframework.io'), 'scorecard Configuration');
  if (crds.length === 0) throw new Error('no CustomResourceDefinition in the kustomize output');
  if (deployments.length === 0) throw new Error('no Deployment in the kustomize output');

  const saNames = new Set(serviceAccounts.map((sa) => sa.metadata.name));
  const boundTo = (binding) => {
    const subjects = (binding.subjects ?? []).filter((s) => s.kind === 'ServiceAccount' && saNames.has(s.name));
    return subjects.map((s) => s.name);
  };

  // RBAC bound to the operator's ServiceAccounts becomes (cluster)Permissions;
  // OLM creates the Roles, ClusterRoles and their bindings from them.
  const consumed = new Set();
  const key = (o) => `${o.kind}/${o.metadata.name}`;
  const permissions = (bindings, rolesOfKind, roleKind) => {
    const perSa = new Map();
    for (const binding of [...bindings].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name))) {
      const sas = boundTo(binding);
      if (sas.length === 0) continue;
      if (binding.roleRef.kind !== roleKind) throw new Error(`${key(binding)} binds a ${binding.roleRef.kind}; expected ${roleKind}`);
      const role = one(rolesOfKind.filter((r) => r.metadata.name === binding.roleRef.name), `${roleKind} ${binding.roleRef.name}`);
      consumed.add(key(binding)).add(key(role));
      for (const sa of sas) perSa.set(sa, [...(perSa.get(sa) ?? []), ...role.rules]);
    }
    return [...perSa.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([serviceAccountName, rules]) => ({ serviceAccountName, rules }));
  };
  const clusterPermissions = permissions(clusterRoleBindings, clusterRoles, 'ClusterRole');
  const nsPermissions = permissions(roleBindings, roles, 'Role');
  for (const sa of serviceAccounts) consumed.add(key(sa));

  // The operand image the operator defaults to, from the manager's env.
  const relatedImages = [];
  const installDeployments = deployments.map((d) => {
    consumed.add(key(d));
    const sa = d.spec.template.spec.serviceAccountName;
    if (!saNames.has(sa)) throw new Error(`Deployment ${d.metadata.name} runs as ${sa}, which the kustomize output does not create`);
    const manager = d.spec.template.spec.containers.find((c) => c.name === OPERATOR_CONTAINER);
    if (manager) {
      relatedImages.push({ name: PACKAGE, image: manager.image });
      const operand = (manager.env ?? []).find((e) => e.name === OPERAND_IMAGE_ENV);
      if (!operand?.value) throw new Error(`container ${OPERATOR_CONTAINER} has no ${OPERAND_IMAGE_ENV} value`);
      relatedImages.push({ name: 'memcached', image: operand.value });
    }
    return { name: d.metadata.name, label: d.metadata.labels, spec: d.spec };
  });
  if (relatedImages[0]?.image !== opts.img) throw new Error(`the manager image is ${relatedImages[0]?.image}, expected ${opts.img}`);

  // Owned CRDs: the CSV base describes them; their served storage version is the CRD's.
  const owned = csv.spec.customresourcedefinitions?.owned ?? [];
  for (const crd of crds) {
    const entry = owned.find((o) => o.name === crd.metadata.name);
    if (!entry) throw new Error(`the CSV base does not describe owned CRD ${crd.metadata.name}`);
    const storage = one(crd.spec.versions.filter((v) => v.storage), `storage version of ${crd.metadata.name}`);
    if (entry.version !== storage.name || entry.kind !== crd.spec.names.kind) {
      throw new Error(`CSV base owns ${entry.kind} ${entry.version}; the CRD is ${crd.spec.names.kind} ${storage.name}`);
    }
  }

  const examples = samples
    .map(stripNamespace)
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  for (const s of samples) consumed.add(key(s));
  const icon = readFileSync(path.join(root, opts.config, 'bases', 'icon.svg'));

  const name = `${PACKAGE}.v${opts.version}`;
  const annotations = {
    ...csv.metadata.annotations,
    'alm-examples': JSON.stringify(examples, null, 2),
    containerImage: opts.img,
    createdAt: opts.createdAt,
  };
  const sortedAnnotations = Object.fromEntries(Object.entries(annotations).sort(([a], [b]) => a.localeCompare(b)));
  const { install: _install, version: _version, icon: _icon, relatedImages: _related, ...baseSpec } = csv.spec;
  const out = {
    apiVersion: csv.apiVersion,
    kind: csv.kind,
    metadata: { name, annotations: sortedAnnotations, ...(csv.metadata.labels ? { labels: csv.metadata.labels } : {}) },
    spec: {
      ...baseSpec,
      icon: [{ base64data: icon.toString('base64'), mediatype: 'image/svg+xml' }],
      install: {
        strategy: 'deployment',
        spec: {
          ...(clusterPermissions.length ? { clusterPermissions } : {}),
          deployments: installDeployments,
          ...(nsPermissions.length ? { permissions: nsPermissions } : {}),
        },
      },
      relatedImages,
      version: opts.version,
    },
  };

  const files = new Map();
  files.set(`manifests/${PACKAGE}.clusterserviceversion.yaml`, dump(out));
  for (const crd of crds) {
    consumed.add(key(crd));
    files.set(`manifests/${crd.spec.group}_${crd.spec.names.plural}.yaml`, dump(crd));
  }
  // What remains (the metrics and exporter Services, the aggregated
  // ClusterRoles, the operator's alerts as a PrometheusRule) ships as extra
  // bundle objects; the Namespace and the CSV base do not.
  consumed.add(key(csv)).add(key(scorecard));
  for (const obj of objects) {
    if (consumed.has(key(obj)) || obj.kind === 'Namespace') continue;
    const file = `${obj.metadata.name}_${groupOf(obj.apiVersion) ? groupOf(obj.apiVersion) + '_' : ''}${versionOf(obj.apiVersion)}_${obj.kind.toLowerCase()}.yaml`;
    files.set(`manifests/${file}`, dump(stripNamespace(obj)));
  }

  const labels = {
    'operators.operatorframework.io.bundle.mediatype.v1': 'registry+v1',
    'operators.operatorframework.io.bundle.manifests.v1': 'manifests/',
    'operators.operatorframework.io.bundle.metadata.v1': 'metadata/',
    'operators.operatorframework.io.bundle.package.v1': PACKAGE,
    'operators.operatorframework.io.bundle.channels.v1': opts.channels.join(','),
    'operators.operatorframework.io.bundle.channel.default.v1': opts.defaultChannel,
    'operators.operatorframework.io.test.mediatype.v1': 'scorecard+v1',
    'operators.operatorframework.io.test.config.v1': 'tests/scorecard/',
  };
  files.set('metadata/annotations.yaml', dump({ annotations: labels }));
  files.set('tests/scorecard/config.yaml', dump(scorecard));

  const dockerfile = [
    '# Generated by make bundle (hack/generate-bundle.js); do not edit.',
    'FROM scratch',
    '',
    '# Core bundle labels, the same as bundle/metadata/annotations.yaml.',
    ...Object.entries(labels).map(([k, v]) => `LABEL ${k}=${v}`),
    '',
    `COPY ${opts.output}/manifests /manifests/`,
    `COPY ${opts.output}/metadata /metadata/`,
    `COPY ${opts.output}/tests/scorecard /tests/scorecard/`,
    '',
  ].join('\n');
  return { files, dockerfile };
}

function write(opts, { files, dockerfile }) {
  const target = path.resolve(root, opts.output);
  const staging = `${target}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  for (const [file, content] of files) {
    mkdirSync(path.dirname(path.join(staging, file)), { recursive: true });
    writeFileSync(path.join(staging, file), content);
  }
  rmSync(target, { recursive: true, force: true });
  renameSync(staging, target);
  writeFileSync(path.resolve(root, opts.dockerfile), dockerfile);
  for (const file of [...files.keys()].sort()) console.log(`bundle: wrote ${path.join(opts.output, file)}`);
  console.log(`bundle: wrote ${opts.dockerfile}`);
}

try {
  const opts = parseArgs(process.argv.slice(2));
  write(opts, generate(opts));
} catch (err) {
  console.error(`generate-bundle: ${err instanceof Error ? err.message : String(err)}`);
  // A bad command line exits 2, as the operator's own flags do; anything else 1.
  process.exit(err instanceof UsageError || String(err?.code).startsWith('ERR_PARSE_ARGS') ? 2 : 1);
}
