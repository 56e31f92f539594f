import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';

const execFileAsync = promisify(execFile);

// Debian's busybox-static (installed by scripts/setup.sh): one static binary is a whole rootfs.
const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'sleep', 'nc', 'ip', 'ls', 'cat', 'echo', 'hostname', 'ps', 'true'];
const CMD = '["/bin/sleep","infinity"]';
const CONTENT_LABEL = 'decnet.fixture.content';

export interface FixtureImageOptions {
  registry: string;
  tag: string;
  /** Catalogue service names: each gets `<registry>/<name>:<tag>`. */
  services: string[];
}

/**
 * No registry is reachable here, so every image the product pulls is the same local busybox
 * image: built once by `docker import`, tagged `<registry>/base:<tag>` and once per service.
 * Returns the image names. A rerun with the same content only adds missing tags.
 */
export async function buildFixtureImages({ registry, tag, services }: FixtureImageOptions): Promise<string[]> {
  const docker = new Docker();
  const content = await contentHash();
  const base = `${registry}/base:${tag}`;

  let baseId = await imageIdWithLabel(docker, base, content);
  if (!baseId) {
    await importBusyboxImage(base, content);
    // The CMD must really run: a dynamically linked /bin/busybox would not in an empty rootfs.
    await execFileAsync('docker', ['run', '--rm', '--network', 'none', base, '/bin/true']);
    baseId = (await docker.getImage(base).inspect()).Id;
  }

  const names = [base];
  for (const service of services) {
    const name = `${registry}/${service}:${tag}`;
    const current = await docker
      .getImage(name)
      .inspect()
      .then(
        (info) => info.Id,
        () => undefined,
      );
    if (current !== baseId) await docker.getImage(base).tag({ repo: `${registry}/${service}`, tag });
    names.push(name);
  }
  return names;
}

/** Identifies what goes into the image, so a changed busybox or applet list rebuilds it. */
async function contentHash(): Promise<string> {
  const hash = createHash('sha256');
  hash.update(
    await fs.readFile(BUSYBOX).catch(() => {
      throw new Error(`${BUSYBOX} is missing: run \`bash scripts/setup.sh\` (installs busybox-static)`);
    }),
  );
  hash.update(JSON.stringify({ APPLETS, CMD }));
  return hash.digest('hex').slice(0, 32);
}

async function imageIdWithLabel(docker: Docker, name: string, content: string): Promise<string | undefined> {
  const info = await docker
    .getImage(name)
    .inspect()
    .catch(() => undefined);
  return info?.Config?.Labels?.[CONTENT_LABEL] === content ? info.Id : undefined;
}

async function importBusyboxImage(name: string, content: string): Promise<void> {
  const rootfs = await fs.mkdtemp(path.join(os.tmpdir(), 'decnet-rootfs-'));
  try {
    await fs.mkdir(path.join(rootfs, 'bin'));
    await fs.copyFile(BUSYBOX, path.join(rootfs, 'bin', 'busybox'));
    await fs.chmod(path.join(rootfs, 'bin', 'busybox'), 0o755);
    for (const applet of APPLETS) await fs.symlink('busybox', path.join(rootfs, 'bin', applet));
    // Mount points and scratch dirs that the engine and the applets expect.
    for (const dir of ['etc', 'proc', 'sys', 'dev', 'root']) await fs.mkdir(path.join(rootfs, dir));
    await fs.mkdir(path.join(rootfs, 'tmp'));
    await fs.chmod(path.join(rootfs, 'tmp'), 0o1777);
    await pipeTarIntoImport(rootfs, name, content);
  } finally {
    await fs.rm(rootfs, { recursive: true, force: true });
  }
}

function pipeTarIntoImport(rootfs: string, name: string, content: string): Promise<void> {
  const tar = spawn('tar', ['-C', rootfs, '--numeric-owner', '--owner=0', '--group=0', '-cf', '-', '.'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const importer = spawn('docker', ['import', '--change', `CMD ${CMD}`, '--change', `LABEL ${CONTENT_LABEL}=${content}`, '-', name], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  tar.stdout.pipe(importer.stdin);
  let importerStderr = '';
  importer.stderr.on('data', (chunk: Buffer) => (importerStderr += chunk.toString()));
  return Promise.all([exitOk(tar, 'tar'), exitOk(importer, `docker import ${name}`, () => importerStderr.trim())]).then(() => undefined);
}

function exitOk(child: ChildProcess, what: string, stderr?: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${what} exited ${code}${stderr ? `: ${stderr()}` : ''}`))));
  });
}
