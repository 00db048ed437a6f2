// The operator's own validation of a Memcached, built at run time from the CRD
// YAML (the single source of truth) so the two cannot disagree:
//
//   1. the structural OpenAPI v3 schema is converted into JSON Schema for ajv;
//   2. unknown fields are pruned and the CRD's `default`s applied, as the
//      apiserver does on write;
//   3. every CEL rule (x-kubernetes-validations) is evaluated through its
//      TypeScript twin in CEL_RULES, keyed by the exact rule string. A unit test
//      fails when a rule in the CRD has no twin, or a twin no rule.
//
// validateMemcached never throws: a Memcached that reaches the operator has
// passed the apiserver already, but one written before a CRD upgrade, or
// anything in a test, may be arbitrary.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { MemcachedAlertOverrides, MemcachedAutoscaling, MemcachedSpec, MemcachedTLS } from './types.js';

export const CRD_RELATIVE_PATH = join('config', 'crd', 'bases', 'cache.example.com_memcacheds.yaml');

/** Used when spec.image is unset and RELATED_IMAGE_MEMCACHED is not set either (see options.ts). */
export const DEFAULT_MEMCACHED_IMAGE = 'docker.io/library/memcached:1.6.39-alpine';

export type ValidationResult =
  | { valid: true; spec: MemcachedSpec }
  | { valid: false; message: string };

/** A node of a structural OpenAPI v3 schema, as far as this file reads it. */
export interface OpenApiSchema {
  type?: string;
  description?: string;
  format?: string;
  nullable?: boolean;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, OpenApiSchema>;
  additionalProperties?: OpenApiSchema | boolean;
  items?: OpenApiSchema;
  required?: string[];
  anyOf?: OpenApiSchema[];
  allOf?: OpenApiSchema[];
  oneOf?: OpenApiSchema[];
  not?: OpenApiSchema;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-validations'?: { rule: string; message?: string }[];
  [keyword: string]: unknown;
}

// ----------------------------------------------------------- the CRD file --

/**
 * The CRD file, found by walking up from this module to the package root that
 * holds config/: works from dist/api/ and from .build/src/api/ alike.
 */
export function crdPath(startDir: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = startDir;
  for (;;) {
    const candidate = join(dir, CRD_RELATIVE_PATH);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`${CRD_RELATIVE_PATH} not found above ${startDir}`);
    dir = parent;
  }
}

interface CrdDocument {
  spec: { versions: { name: string; schema: { openAPIV3Schema: OpenApiSchema } }[] };
}

let cachedSchema: OpenApiSchema | undefined;

/**
 * YAML as plain data, keys as written. (client-node's loadYaml would map a
 * document with apiVersion and kind onto its typed model, which renames
 * schema keywords such as `default` to `_default`.)
 */
export function loadPlainYaml<T>(text: string): T {
  return parseYaml(text) as T;
}

/** The v1alpha1 openAPIV3Schema of the CRD (read once). */
export function crdSchema(): OpenApiSchema {
  if (!cachedSchema) {
    const crd = loadPlainYaml<CrdDocument>(readFileSync(crdPath(), 'utf8'));
    const version = crd.spec.versions.find((v) => v.name === 'v1alpha1');
    if (!version) throw new Error('CRD has no v1alpha1 version');
    cachedSchema = version.schema.openAPIV3Schema;
  }
  return cachedSchema;
}

// --------------------------------------------- OpenAPI v3 -> JSON Schema --

const INT32 = { minimum: -2147483648, maximum: 2147483647 };
/** Keywords copied as they are; everything else (x-kubernetes-*, default, format, description, nullable) is handled or dropped. */
const PLAIN_KEYWORDS = [
  'type', 'enum', 'required', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf',
  'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems', 'uniqueItems', 'minProperties', 'maxProperties',
] as const;

/** Converts a structural OpenAPI v3 schema into JSON Schema (draft-07) that ajv accepts in strict mode. */
export function toJsonSchema(node: OpenApiSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const keyword of PLAIN_KEYWORDS) {
    if (node[keyword] !== undefined) out[keyword] = node[keyword];
  }
  if (node.format === 'int32') {
    // ajv has no int32 format; the range says the same.
    if (out.minimum === undefined) out.minimum = INT32.minimum;
    if (out.maximum === undefined) out.maximum = INT32.maximum;
  }
  // int64, date-time and the other formats are dropped: ajv without ajv-formats
  // would reject them as unknown, and JSON numbers cannot exceed int64 anyway.
  if (node.properties) {
    out.properties = Object.fromEntries(Object.entries(node.properties).map(([k, v]) => [k, toJsonSchema(v)]));
  }
  if (typeof node.additionalProperties === 'object') {
    out.additionalProperties = toJsonSchema(node.additionalProperties);
  } else if (typeof node.additionalProperties === 'boolean') {
    out.additionalProperties = node.additionalProperties;
  }
  if (node.items) out.items = toJsonSchema(node.items);
  for (const combinator of ['anyOf', 'allOf', 'oneOf'] as const) {
    const list = node[combinator];
    if (list) out[combinator] = list.map(toJsonSchema);
  }
  if (node.not) out.not = toJsonSchema(node.not);
  if (node['x-kubernetes-int-or-string'] && !node.anyOf) {
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  }
  if (node.nullable && typeof out.type === 'string') {
    out.type = [out.type, 'null'];
  }
  return out;
}

// ------------------------------------------------ pruning and defaulting --

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A copy of value with the fields the schema does not know removed and the
 * schema's defaults filled in, like the apiserver's pruning and defaulting.
 * Values of the wrong type are copied as they are for ajv to report.
 */
export function pruneAndDefault(value: unknown, schema: OpenApiSchema): unknown {
  if (Array.isArray(value)) {
    return value.map((item) => (schema.items ? pruneAndDefault(item, schema.items) : clonePlain(item)));
  }
  if (!isPlainObject(value)) return clonePlain(value);
  const out: Record<string, unknown> = {};
  const known = schema.properties ?? {};
  const extra = typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
  const keepUnknown =
    schema['x-kubernetes-preserve-unknown-fields'] === true ||
    schema.additionalProperties === true ||
    (!schema.properties && !extra);
  for (const [key, child] of Object.entries(value)) {
    const childSchema = Object.hasOwn(known, key) ? known[key] : extra;
    if (childSchema) out[key] = pruneAndDefault(child, childSchema);
    else if (keepUnknown) out[key] = clonePlain(child);
  }
  for (const [key, childSchema] of Object.entries(known)) {
    if (out[key] === undefined && childSchema.default !== undefined) {
      out[key] = pruneAndDefault(clonePlain(childSchema.default), childSchema);
    }
  }
  return out;
}

function clonePlain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(clonePlain);
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, c]) => [k, clonePlain(c)]));
  return v;
}

/** A deep copy of spec with unknown fields pruned and the CRD's defaults applied (not validated). */
export function applyDefaults(spec: MemcachedSpec | undefined): MemcachedSpec {
  const specSchema = crdSchema().properties?.spec;
  if (!specSchema) throw new Error('CRD schema has no spec');
  return pruneAndDefault(spec ?? {}, specSchema) as MemcachedSpec;
}

// ------------------------------------------------------------- CEL rules --

/** Kibibytes of a maxItemSize such as "512k" or "2M" (already matching the CRD's pattern). */
export function itemSizeKiB(size: string): number {
  const n = Number.parseInt(size.slice(0, -1), 10);
  return /[mM]$/.test(size) ? n * 1024 : n;
}

/** getopt flags of memcached 1.6 that take no argument, so may be bundled before another (-vd). */
const NO_ARG_FLAGS = 'AZMkhiVrvLCSFXW';
/** Short flags the operator owns (or that break the container: -d daemonizes). */
const OWNED_SHORT_FLAGS = 'dpmctIUulse';
const OWNED_SHORT_RE = new RegExp(`^-[${NO_ARG_FLAGS}]*[${OWNED_SHORT_FLAGS}]`);
/** Long options the operator owns; getopt_long also accepts any unambiguous prefix of them. */
const OWNED_LONG_OPTIONS = [
  'port', 'udp-port', 'memory-limit', 'memory-file', 'conn-limit', 'threads', 'max-item-size', 'user', 'listen', 'unix-socket', 'daemon',
];

type CelTwin = (self: never) => boolean;

/**
 * TypeScript twins of the CRD's CEL rules, keyed by the exact rule string.
 * Each receives `self`, the (defaulted, schema-valid) value the rule is
 * attached to, and returns true when the rule holds.
 */
export const CEL_RULES: Readonly<Record<string, CelTwin>> = {
  "!(has(self.highAvailability) && self.highAvailability == 'Disabled' && has(self.size) && self.size > 1)": (
    self: MemcachedSpec,
  ) => !(self.highAvailability === 'Disabled' && self.size !== undefined && self.size > 1),

  "!(has(self.highAvailability) && self.highAvailability == 'Enabled' && has(self.size) && self.size < 2)": (
    self: MemcachedSpec,
  ) => !(self.highAvailability === 'Enabled' && self.size !== undefined && self.size < 2),

  "!has(self.maxItemSize) || !has(self.memoryLimitMB) || 2 * ((self.maxItemSize.endsWith('m') || self.maxItemSize.endsWith('M')) ? int(self.maxItemSize.substring(0, size(self.maxItemSize) - 1)) * 1024 : int(self.maxItemSize.substring(0, size(self.maxItemSize) - 1))) <= self.memoryLimitMB * 1024":
    (self: MemcachedSpec) =>
      self.maxItemSize === undefined ||
      self.memoryLimitMB === undefined ||
      2 * itemSizeKiB(self.maxItemSize) <= self.memoryLimitMB * 1024,

  "(self.endsWith('m') || self.endsWith('M')) ? int(self.substring(0, size(self) - 1)) <= 1024 : int(self.substring(0, size(self) - 1)) % 512 == 0 && int(self.substring(0, size(self) - 1)) <= 1048576":
    (self: string) => {
      const n = Number.parseInt(self.slice(0, -1), 10);
      return /[mM]$/.test(self) ? n <= 1024 : n % 512 === 0 && n <= 1048576;
    },

  "!has(self.tls) || !has(self.tls.plaintextPort) || !has(self.containerPort) || self.tls.plaintextPort != self.containerPort": (
    self: MemcachedSpec,
  ) => self.tls?.plaintextPort === undefined || self.containerPort === undefined || self.tls.plaintextPort !== self.containerPort,

  "!has(self.clientCertificates) || has(self.clientCASecretName)": (self: MemcachedTLS) =>
    self.clientCertificates === undefined || self.clientCASecretName !== undefined,

  // A tls block that names a Secret but leaves TLS off would serve plaintext while the user believes it encrypted.
  "(!has(self.secretName) && !has(self.clientCASecretName)) || (has(self.enabled) && self.enabled)": (self: MemcachedTLS) =>
    (self.secretName === undefined && self.clientCASecretName === undefined) || self.enabled === true,

  "!has(self.connectionsWarningPercent) || !has(self.connectionsCriticalPercent) || self.connectionsWarningPercent < self.connectionsCriticalPercent": (
    self: MemcachedAlertOverrides,
  ) =>
    self.connectionsWarningPercent === undefined ||
    self.connectionsCriticalPercent === undefined ||
    self.connectionsWarningPercent < self.connectionsCriticalPercent,

  // The auto pilot: its bounds, and how they meet memoryLimitMB, resources and highAvailability.
  "!has(self.enabled) || !self.enabled || has(self.maxReplicas)": (self: MemcachedAutoscaling) =>
    self.enabled !== true || self.maxReplicas !== undefined,

  "!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas": (self: MemcachedAutoscaling) =>
    self.minReplicas === undefined || self.maxReplicas === undefined || self.minReplicas <= self.maxReplicas,

  "!has(self.autoscaling) || !has(self.autoscaling.maxMemoryLimitMB) || !has(self.memoryLimitMB) || self.autoscaling.maxMemoryLimitMB >= self.memoryLimitMB":
    (self: MemcachedSpec) =>
      self.autoscaling?.maxMemoryLimitMB === undefined ||
      self.memoryLimitMB === undefined ||
      self.autoscaling.maxMemoryLimitMB >= self.memoryLimitMB,

  // Vertical scaling changes -m, and the container's limit follows it only when the user set none.
  "!has(self.autoscaling) || !has(self.autoscaling.maxMemoryLimitMB) || !has(self.resources) || !has(self.resources.limits) || !('memory' in self.resources.limits)":
    (self: MemcachedSpec) =>
      self.autoscaling?.maxMemoryLimitMB === undefined ||
      self.resources?.limits === undefined ||
      !Object.hasOwn(self.resources.limits, 'memory'),

  "!(has(self.highAvailability) && self.highAvailability == 'Disabled' && has(self.autoscaling) && has(self.autoscaling.maxReplicas) && self.autoscaling.maxReplicas > 1)":
    (self: MemcachedSpec) =>
      !(self.highAvailability === 'Disabled' && self.autoscaling?.maxReplicas !== undefined && self.autoscaling.maxReplicas > 1),

  "!(has(self.highAvailability) && self.highAvailability == 'Enabled' && has(self.autoscaling) && ((has(self.autoscaling.minReplicas) && self.autoscaling.minReplicas < 2) || (has(self.autoscaling.maxReplicas) && self.autoscaling.maxReplicas < 2)))":
    (self: MemcachedSpec) =>
      !(
        self.highAvailability === 'Enabled' &&
        ((self.autoscaling?.minReplicas !== undefined && self.autoscaling.minReplicas < 2) ||
          (self.autoscaling?.maxReplicas !== undefined && self.autoscaling.maxReplicas < 2))
      ),

  "self.all(a, !a.matches('^-[AZMkhiVrvLCSFXW]*[dpmctIUulse]'))": (self: string[]) =>
    self.every((a) => !OWNED_SHORT_RE.test(a)),

  "self.all(a, !a.startsWith('--') || !['port', 'udp-port', 'memory-limit', 'memory-file', 'conn-limit', 'threads', 'max-item-size', 'user', 'listen', 'unix-socket', 'daemon'].exists(n, n.startsWith(a.substring(2).split('=')[0])))":
    (self: string[]) =>
      self.every((a) => !a.startsWith('--') || !OWNED_LONG_OPTIONS.some((n) => n.startsWith(a.slice(2).split('=')[0]))),
};

/** A CEL rule of the CRD with the path of the field it is attached to. */
export interface CelRuleSite {
  path: string[];
  rule: string;
  message: string;
}

/** Every x-kubernetes-validations rule in a schema, outermost first. */
export function collectCelRules(schema: OpenApiSchema, path: string[] = []): CelRuleSite[] {
  const sites: CelRuleSite[] = (schema['x-kubernetes-validations'] ?? []).map((v) => ({
    path,
    rule: v.rule,
    message: v.message ?? `failed rule: ${v.rule}`,
  }));
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    sites.push(...collectCelRules(child, [...path, key]));
  }
  if (schema.items) sites.push(...collectCelRules(schema.items, [...path, '[]']));
  if (typeof schema.additionalProperties === 'object') {
    sites.push(...collectCelRules(schema.additionalProperties, [...path, '{}']));
  }
  return sites;
}

/** Values at path (with [] and {} fanning out over list items and map values), and their display paths. */
function valuesAt(value: unknown, path: string[], shown: string): { value: unknown; shown: string }[] {
  if (value === undefined || value === null) return [];
  if (path.length === 0) return [{ value, shown }];
  const [head, ...rest] = path;
  if (head === '[]') {
    return Array.isArray(value) ? value.flatMap((v, i) => valuesAt(v, rest, `${shown}[${i}]`)) : [];
  }
  if (!isPlainObject(value)) return [];
  if (head === '{}') return Object.entries(value).flatMap(([k, v]) => valuesAt(v, rest, `${shown}[${k}]`));
  return valuesAt(value[head], rest, shown ? `${shown}.${head}` : head);
}

function checkCelRules(obj: Record<string, unknown>): string[] {
  const failures: string[] = [];
  for (const site of collectCelRules(crdSchema())) {
    const twin = CEL_RULES[site.rule];
    for (const { value, shown } of valuesAt(obj, site.path, '')) {
      // A twin that has no entry or throws fails closed, like a CEL runtime error.
      let ok = false;
      try {
        ok = twin !== undefined && twin(value as never);
      } catch {
        ok = false;
      }
      if (!ok) failures.push(`${shown || '<root>'}: ${site.message}`);
    }
  }
  return failures;
}

// -------------------------------------------------------------- messages --

function displayPath(instancePath: string): string {
  return instancePath
    .split('/')
    .slice(1)
    .map((seg) => seg.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

function describeError(e: ErrorObject): string {
  const at = displayPath(e.instancePath) || '<root>';
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'enum':
      return `${at}: must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'required':
      return `${at}: missing required field "${String(params.missingProperty)}"`;
    case 'additionalProperties':
      return `${at}: unknown field "${String(params.additionalProperty)}"`;
    case 'anyOf':
      return `${at}: must be an integer or a string`;
    case 'pattern':
      return `${at}: must match ${String(params.pattern)}`;
    case 'type':
      return `${at}: must be ${describeType(params.type)}`;
    default:
      return `${at}: ${e.message ?? 'is invalid'}`;
  }
}

function describeType(t: unknown): string {
  const names: Record<string, string> = {
    integer: 'an integer', number: 'a number', string: 'a string', boolean: 'a boolean',
    object: 'an object', array: 'an array', null: 'null',
  };
  const list = Array.isArray(t) ? t : String(t).split(',');
  return list.map((x) => names[String(x)] ?? String(x)).join(' or ');
}

/** ajv's errors as one readable line; the branches of a failed anyOf collapse into it. */
function formatErrors(errors: ErrorObject[]): string {
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const lines = errors
    .filter((e) => e.keyword === 'anyOf' || !anyOfPaths.has(e.instancePath))
    .map(describeError);
  return [...new Set(lines)].join('; ');
}

// ------------------------------------------------------------ validation --

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (!compiled) {
    const schema = { ...crdSchema() };
    const properties = { ...(schema.properties ?? {}) };
    // Only the user's half is validated: status is the operator's own output.
    delete properties.status;
    schema.properties = properties;
    // strictTypes is off: a pattern beside int-or-string's anyOf is legitimate Kubernetes schema.
    const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, allowUnionTypes: true });
    compiled = ajv.compile(toJsonSchema(schema));
  }
  return compiled;
}

/**
 * Validates a Memcached (or anything else) against the CRD: schema, then CEL
 * rules. On success, returns a defaulted deep copy of its spec (an absent spec
 * counts as {}). Never throws.
 */
export function validateMemcached(obj: unknown): ValidationResult {
  try {
    if (!isPlainObject(obj)) return { valid: false, message: `<root>: must be an object` };
    const specSchema = crdSchema().properties?.spec;
    if (!specSchema) throw new Error('CRD schema has no spec');
    const rawSpec = obj.spec === undefined ? {} : obj.spec;
    const spec = pruneAndDefault(rawSpec, specSchema);
    const candidate: Record<string, unknown> = { spec };
    for (const key of ['apiVersion', 'kind', 'metadata']) {
      if (obj[key] !== undefined) candidate[key] = obj[key];
    }
    const validate = validator();
    if (!validate(candidate)) {
      return { valid: false, message: formatErrors(validate.errors ?? []) || 'invalid' };
    }
    const failures = checkCelRules(candidate);
    if (failures.length > 0) return { valid: false, message: failures.join('; ') };
    return { valid: true, spec: spec as MemcachedSpec };
  } catch (err) {
    return { valid: false, message: `cannot validate: ${err instanceof Error ? err.message : String(err)}` };
  }
}
