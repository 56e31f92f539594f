/**
 * DECNET's INI fleet format (architecture.md §4) → FleetDefinition. A small line scanner rather than the
 * npm `ini` package, because every error must name the line and key, and `ini` keeps no lines.
 */
import type { z } from 'zod';
import { splitCommandLine } from './argv';
import { FleetInputError, overDeploymentLimitError } from './errors';
import { parseMutateInterval } from './interval';
import {
  CustomServiceSchema,
  DeckyRequestSchema,
  INI_MAX_BYTES,
  NetworkSchema,
  ServiceNameSchema,
  type CustomService,
  type DeckyRequest,
  type FleetDefinition,
  type Network,
  type ParsedFleet,
} from './schemas';

interface IniEntry {
  value: string;
  line: number;
}

/** A decky key as the file spells it (`nmap-os` or `nmap_os`), for errors that quote the file. */
interface WrittenKey {
  written: string;
  entry: IniEntry;
}

interface IniSection {
  name: string;
  line: number;
  /** Keys are lower-cased, as Python's configparser does. */
  entries: Map<string, IniEntry>;
}

const GENERAL_SECTION = 'general';

/** INI key in [general] → field of the network object. */
const NETWORK_KEYS: Record<string, keyof Network> = {
  net: 'subnet',
  gw: 'gateway',
  interface: 'interface',
  ip_range: 'ip_range',
  ipvlan: 'ipvlan',
};

const DECKY_KEYS = ['ip', 'services', 'archetype', 'amount', 'mutate_interval', 'distro', 'hostname', 'nmap_os'] as const;
type DeckyKey = (typeof DECKY_KEYS)[number];

/** DECNET's files spell some decky keys in two ways. */
const DECKY_KEY_ALIASES: Record<string, DeckyKey> = { 'nmap-os': 'nmap_os' };

/** `[custom-<name>]` defines the bring-your-own service `<name>`. */
const CUSTOM_PREFIX = 'custom-';

/** INI key in a [custom-<name>] section → field of CustomService. */
const CUSTOM_KEYS: Record<string, keyof CustomService> = { binary: 'image', exec: 'exec', ports: 'ports' };

/** configparser's getboolean() words, so DECNET files keep working. */
const BOOLEAN_WORDS: Record<string, boolean> = {
  true: true,
  yes: true,
  on: true,
  '1': true,
  false: false,
  no: false,
  off: false,
  '0': false,
};

export interface ParseIniOptions {
  /** More decky sections than this are refused before any of them is built. */
  maxDeckies?: number;
}

/**
 * The fleet of an INI file and its warnings: a `[decky.service]` section of a decky the file does
 * not define is skipped (DECNET ignores it too), everything else wrong is a line-numbered error.
 */
export function parseFleetIni(text: string, options: ParseIniOptions = {}): ParsedFleet {
  if (Buffer.byteLength(text, 'utf8') > INI_MAX_BYTES) {
    throw new FleetInputError(`INI content is limited to ${INI_MAX_BYTES / 1024} KB`);
  }
  const sections = scanSections(text);
  const isCustom = (s: IniSection) => s.name.startsWith(CUSTOM_PREFIX) && !s.name.includes('.');

  const customSections = sections.filter(isCustom);
  const customNames = new Set(customSections.map((s) => s.name.slice(CUSTOM_PREFIX.length)));
  // `custom-<name>` names the same service as `<name>` wherever a service is named.
  const serviceName = (name: string) =>
    name.startsWith(CUSTOM_PREFIX) && customNames.has(name.slice(CUSTOM_PREFIX.length)) ? name.slice(CUSTOM_PREFIX.length) : name;

  const deckySections = sections.filter((s) => s.name !== GENERAL_SECTION && !s.name.includes('.') && !isCustom(s));
  if (deckySections.length === 0) {
    throw new FleetInputError('no decky defined: add at least one [name] section');
  }
  if (options.maxDeckies !== undefined && deckySections.length > options.maxDeckies) {
    throw overDeploymentLimitError(deckySections.length, options.maxDeckies, 'the INI defines');
  }
  const drafts = new Map(deckySections.map((s) => [s.name, { section: s, serviceSections: [] as IniSection[] }]));
  const warnings: string[] = [];
  for (const section of sections.filter((s) => s.name.includes('.'))) {
    const [deckyName] = splitServiceSection(section);
    const draft = drafts.get(deckyName);
    if (draft) draft.serviceSections.push(section);
    else warnings.push(`line ${section.line}: section [${section.name}]: no decky [${deckyName}] in this file; skipped`);
  }

  const general = sections.find((s) => s.name === GENERAL_SECTION);
  const definition: FleetDefinition = {
    ...(general ? { network: buildNetwork(general) } : {}),
    deckies: [...drafts.values()].map((d) => buildDecky(d.section, d.serviceSections, serviceName)),
    ...(customSections.length > 0 ? { custom_services: Object.fromEntries(customSections.map((s) => buildCustomService(s))) } : {}),
  };
  return { definition, warnings };
}

/** Splits the text into sections, rejecting anything that is not a comment, header or key=value. */
function scanSections(text: string): IniSection[] {
  // By name, so a duplicate is found in constant time: the scan stays linear in the sections.
  const sections = new Map<string, IniSection>();
  let current: IniSection | undefined;
  text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .forEach((raw, index) => {
      const line = index + 1;
      const content = stripComment(raw);
      if (content === '') return;

      const header = /^\[(.*)\]$/.exec(content);
      if (header) {
        current = openSection(sections, header[1].trim(), line);
        return;
      }
      const eq = content.indexOf('=');
      if (eq <= 0) {
        throw new FleetInputError(`line ${line}: expected "[section]" or "key=value", got ${JSON.stringify(content)}`, { line });
      }
      const key = content.slice(0, eq).trim().toLowerCase();
      if (!current) throw atKey(line, key, 'appears before any [section]');
      const previous = current.entries.get(key);
      if (previous) throw atKey(line, key, `is set twice in [${current.name}] (first on line ${previous.line})`);
      current.entries.set(key, { value: content.slice(eq + 1).trim(), line });
    });
  return [...sections.values()];
}

/** Whole-line comments start with ; or #; inline ones need whitespace before them (configparser's rule). */
function stripComment(raw: string): string {
  const trimmed = raw.trim();
  if (trimmed.startsWith(';') || trimmed.startsWith('#')) return '';
  return trimmed.replace(/\s[;#].*$/, '').trim();
}

function openSection(sections: Map<string, IniSection>, name: string, line: number): IniSection {
  if (name === '') throw new FleetInputError(`line ${line}: empty section name "[]"`, { line });
  const previous = sections.get(name);
  if (previous) {
    throw new FleetInputError(`line ${line}: section [${name}] is defined twice (first on line ${previous.line})`, { line });
  }
  const section: IniSection = { name, line, entries: new Map() };
  sections.set(name, section);
  return section;
}

function splitServiceSection(section: IniSection): [decky: string, service: string] {
  const dot = section.name.indexOf('.');
  const decky = section.name.slice(0, dot);
  const service = section.name.slice(dot + 1);
  if (decky === '' || service === '') throw atSection(section, 'per-service sections are named [decky.service]');
  return [decky, service];
}

function buildNetwork(section: IniSection): Partial<Network> {
  const network: Record<string, string | boolean> = {};
  for (const [key, entry] of section.entries) {
    const field = NETWORK_KEYS[key];
    if (!field) throw atKey(entry.line, key, `is not a [general] key; expected one of ${Object.keys(NETWORK_KEYS).join(', ')}`);
    network[field] = field === 'ipvlan' ? parseBoolean(key, entry) : entry.value;
  }
  const result = NetworkSchema.partial().safeParse(network);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const key = Object.keys(NETWORK_KEYS).find((k) => NETWORK_KEYS[k] === issue.path[0]) ?? String(issue.path[0]);
  throw atKey(section.entries.get(key)?.line ?? section.line, key, issue.message);
}

function parseBoolean(key: string, entry: IniEntry): boolean {
  const value = BOOLEAN_WORDS[entry.value.toLowerCase()];
  if (value === undefined) throw atKey(entry.line, key, `must be true or false, got ${JSON.stringify(entry.value)}`);
  return value;
}

function buildDecky(section: IniSection, serviceSections: IniSection[], serviceName: (name: string) => string): DeckyRequest {
  const request: Record<string, unknown> = { name: section.name };
  const keys = new Map<DeckyKey, WrittenKey>();
  for (const [written, entry] of section.entries) {
    const key = DECKY_KEY_ALIASES[written] ?? written;
    if (!isDeckyKey(key)) {
      throw atKey(entry.line, written, `is not a decky key; expected one of ${DECKY_KEYS.join(', ')} (per-service settings go in [${section.name}.<service>])`);
    }
    const first = keys.get(key);
    if (first) throw atKey(entry.line, written, `sets ${key} again in [${section.name}] (first on line ${first.entry.line} as "${first.written}")`);
    keys.set(key, { written, entry });
    request[key] = deckyValue(key, entry, serviceName);
  }
  if (serviceSections.length > 0) {
    request.service_config = Object.fromEntries(
      serviceSections.map((s) => [serviceName(splitServiceSection(s)[1]), Object.fromEntries([...s.entries].map(([k, e]) => [k, e.value]))]),
    );
  }
  const result = DeckyRequestSchema.safeParse(request);
  if (result.success) return result.data;
  throw errorForIssues(result.error.issues, section, serviceSections, keys, serviceName);
}

/** A `[custom-<name>]` section → [name, CustomService]: binary is the image, exec the argv, ports a comma list. */
function buildCustomService(section: IniSection): [string, CustomService] {
  const name = section.name.slice(CUSTOM_PREFIX.length);
  const nameCheck = ServiceNameSchema.safeParse(name);
  if (!nameCheck.success) throw atSection(section, `custom service name "${name}" ${nameCheck.error.issues[0].message}`);

  const service: Record<string, unknown> = {};
  for (const [key, entry] of section.entries) {
    const field = CUSTOM_KEYS[key];
    if (!field) throw atKey(entry.line, key, `is not a custom service key; expected one of ${Object.keys(CUSTOM_KEYS).join(', ')}`);
    service[field] = customValue(key, entry);
  }
  if (service.image === undefined) throw atSection(section, 'a custom service needs binary=<image>');
  const result = CustomServiceSchema.safeParse(service);
  if (result.success) return [name, result.data];
  const issue = result.error.issues[0];
  const key = Object.keys(CUSTOM_KEYS).find((k) => CUSTOM_KEYS[k] === issue.path[0]) ?? 'binary';
  throw atKey(section.entries.get(key)?.line ?? section.line, key, issue.message);
}

/** Converts the text of a custom service key to the JSON shape of CustomService; the schema checks the rest. */
function customValue(key: string, entry: IniEntry): unknown {
  if (key === 'exec') {
    try {
      return splitCommandLine(entry.value);
    } catch (err) {
      if (err instanceof FleetInputError) throw atKey(entry.line, key, err.message);
      throw err;
    }
  }
  if (key !== 'ports') return entry.value;
  return entry.value
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((port) => {
      if (!/^\d+$/.test(port)) throw atKey(entry.line, key, `must be a comma list of port numbers, got ${JSON.stringify(port)}`);
      return Number(port);
    });
}

function isDeckyKey(key: string): key is DeckyKey {
  return (DECKY_KEYS as readonly string[]).includes(key);
}

/** Converts the text of a decky key to the JSON shape of DeckyRequest; the schema checks the rest. */
function deckyValue(key: DeckyKey, entry: IniEntry, serviceName: (name: string) => string): unknown {
  switch (key) {
    case 'services':
      return entry.value
        .split(',')
        .map((s) => serviceName(s.trim()))
        .filter(Boolean);
    case 'amount':
      if (!/^\d+$/.test(entry.value)) throw atKey(entry.line, key, `must be a whole number 1–100, got ${JSON.stringify(entry.value)}`);
      return Number(entry.value);
    case 'mutate_interval':
      try {
        return parseMutateInterval(entry.value);
      } catch (err) {
        if (err instanceof FleetInputError) throw atKey(entry.line, key, err.message);
        throw err;
      }
    case 'nmap_os':
      return entry.value.toLowerCase();
    default:
      return entry.value;
  }
}

/** Reports the zod issue that comes first in the file, at the line of its key or section header. */
function errorForIssues(
  issues: z.ZodError['issues'],
  section: IniSection,
  serviceSections: IniSection[],
  keys: Map<DeckyKey, WrittenKey>,
  serviceName: (name: string) => string,
): FleetInputError {
  const located = issues.map((issue) => {
    const [field, service, serviceKey] = issue.path.map(String);
    const serviceSection = serviceSections.find((s) => serviceName(splitServiceSection(s)[1]) === service);
    if (field === 'service_config' && serviceSection) {
      const entry = serviceKey === undefined ? undefined : serviceSection.entries.get(serviceKey);
      return entry ? atKey(entry.line, serviceKey, issue.message) : atSection(serviceSection, issue.message);
    }
    const key = keys.get(field as DeckyKey);
    if (key) return atKey(key.entry.line, key.written, issue.message);
    return atSection(section, field === 'name' ? `decky name ${issue.message}` : issue.message);
  });
  return located.reduce((first, e) => ((e.details.line ?? 0) < (first.details.line ?? 0) ? e : first));
}

function atKey(line: number, key: string, message: string): FleetInputError {
  return new FleetInputError(`line ${line}: key "${key}": ${message}`, { line, key });
}

function atSection(section: IniSection, message: string): FleetInputError {
  return new FleetInputError(`line ${section.line}: section [${section.name}]: ${message}`, { line: section.line });
}
