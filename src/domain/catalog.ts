/**
 * The service and archetype catalogue: data files under catalog/, validated once at load,
 * so that the rest of the code can trust every name it finds in it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { NmapOsSchema, ServiceNameSchema as CatalogNameSchema, type NmapOs } from './schemas';

const ServicesFileSchema = z.object({
  services: z
    .array(
      z
        .object({
          name: CatalogNameSchema,
          ports: z.array(z.number().int().min(1).max(65535)),
          image: z.string().min(1).optional(),
          singleton: z.boolean().optional(),
        })
        .strict(),
    )
    .min(1),
});

const ArchetypesFileSchema = z.object({
  archetypes: z.array(
    z
      .object({
        name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'must be lower-case letters, digits and dashes'),
        services: z.array(CatalogNameSchema).min(1),
        distros: z.array(z.string().min(1)).min(1),
        nmap_os: NmapOsSchema,
      })
      .strict(),
  ),
});

export interface CatalogService {
  name: string;
  ports: number[];
  /** A full image reference that overrides the registry/tag naming rule. */
  image?: string;
  /** Fleet-wide services (e.g. the sniffer) that never run inside a decky. */
  singleton?: boolean;
}

export interface Archetype {
  name: string;
  services: string[];
  distros: string[];
  nmap_os: NmapOs;
}

export interface Catalogue {
  services: Map<string, CatalogService>;
  archetypes: Map<string, Archetype>;
  /** The image that serves a service; throws for a name that is not in the catalogue. */
  imageFor(service: string): string;
  /** The image of every decky's base container (the one that holds the IP). */
  baseImage(): string;
  /** Services a decky may run, in catalogue order: everything but the fleet-wide singletons. */
  perDeckyServices(): string[];
}

export interface LoadCatalogueOptions {
  /** Image registry/prefix, e.g. "decnet" or "registry.local:5000/decnet". */
  registry: string;
  tag: string;
  /** Folder holding services.yaml and archetypes.yaml; defaults to the repository's catalog/. */
  dir?: string;
}

const CATALOGUE_FILES = ['services.yaml', 'archetypes.yaml'] as const;
export type CatalogueFile = (typeof CATALOGUE_FILES)[number];

/**
 * The agent artefact's build (scripts/build-agent.ts) defines this with the texts of catalog/, so
 * the single-file agent reads no files beside itself; everywhere else it is undefined.
 */
declare const DECNET_EMBEDDED_CATALOGUE: Record<CatalogueFile, string> | undefined;

/**
 * The repository's catalog/ folder. Walking up (rather than a fixed "../..") finds it both
 * from src/domain (tsx, ts-jest) and from dist/src/domain (compiled).
 */
export function defaultCatalogDir(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'catalog');
    if (existsSync(join(candidate, 'services.yaml'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`no catalog/services.yaml found above ${__dirname}`);
  }
}

/** The catalogue's files: from `dir`, else the embedded copy of the agent artefact, else the repository's catalog/. */
function readCatalogueFile(dir: string | undefined, file: CatalogueFile): { source: string; text: string } {
  if (dir === undefined && typeof DECNET_EMBEDDED_CATALOGUE !== 'undefined') return { source: `(embedded) ${file}`, text: DECNET_EMBEDDED_CATALOGUE[file] };
  const path = join(dir ?? defaultCatalogDir(), file);
  return { source: path, text: readFileSync(path, 'utf8') };
}

/** Every catalogue file's text, for the agent artefact's build to embed. */
export function catalogueTexts(dir = defaultCatalogDir()): Record<CatalogueFile, string> {
  return Object.fromEntries(CATALOGUE_FILES.map((f) => [f, readCatalogueFile(dir, f).text])) as Record<CatalogueFile, string>;
}

export function loadCatalogue({ registry, tag, dir }: LoadCatalogueOptions): Catalogue {
  const servicesFile = readValidated(readCatalogueFile(dir, 'services.yaml'), ServicesFileSchema);
  const archetypesFile = readValidated(readCatalogueFile(dir, 'archetypes.yaml'), ArchetypesFileSchema);

  const services = indexByName(servicesFile.services, 'services.yaml');
  const archetypes = indexByName(archetypesFile.archetypes, 'archetypes.yaml');
  for (const archetype of archetypes.values()) {
    for (const service of archetype.services) {
      if (!services.has(service)) throw new Error(`archetypes.yaml: archetype "${archetype.name}" names unknown service "${service}"`);
      if (services.get(service)?.singleton) {
        throw new Error(`archetypes.yaml: archetype "${archetype.name}" names fleet-wide service "${service}"`);
      }
    }
  }

  return {
    services,
    archetypes,
    imageFor(name) {
      const service = services.get(name);
      if (!service) throw new Error(`unknown service "${name}"`);
      return service.image ?? `${registry}/${name}:${tag}`;
    },
    baseImage: () => `${registry}/base:${tag}`,
    perDeckyServices: () => [...services.values()].filter((s) => !s.singleton).map((s) => s.name),
  };
}

function readValidated<T>(file: { source: string; text: string }, schema: z.ZodType<T>): T {
  const result = schema.safeParse(parseYaml(file.text));
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`${file.source}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}

function indexByName<T extends { name: string }>(items: T[], file: string): Map<string, T> {
  const byName = new Map<string, T>();
  for (const item of items) {
    if (byName.has(item.name)) throw new Error(`${file}: "${item.name}" is defined twice`);
    byName.set(item.name, item);
  }
  return byName;
}
