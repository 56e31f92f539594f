import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

// Interface names hold at most 15 characters, and the peer is named `<name>p`.
const NAME = /^[A-Za-z0-9_.-]{1,14}$/;

function checkName(name: string): void {
  if (!NAME.test(name)) throw new Error(`veth name ${JSON.stringify(name)} must be 1-14 of [A-Za-z0-9_.-]`);
}

async function ip(args: string[], toleratedError?: RegExp): Promise<void> {
  try {
    await execFileAsync('ip', args);
  } catch (err) {
    const stderr = String((err as { stderr?: string }).stderr ?? '');
    if (!toleratedError?.test(stderr)) {
      throw new Error(`ip ${args.join(' ')} failed: ${stderr.trim() || String(err)}`, { cause: err });
    }
  }
}

/**
 * Creates the veth pair `<name>`/`<name>p`, both up, to serve as a macvlan parent: no physical
 * interface is involved, so tests never put frames on a real network. Idempotent.
 */
export async function createVethParent(name: string): Promise<void> {
  checkName(name);
  await ip(['link', 'add', name, 'type', 'veth', 'peer', 'name', `${name}p`], /File exists/);
  await ip(['link', 'set', name, 'up']);
  await ip(['link', 'set', `${name}p`, 'up']);
}

/** Deletes the pair (removing one end removes both). Idempotent. */
export async function deleteVethParent(name: string): Promise<void> {
  checkName(name);
  await ip(['link', 'del', name], /Cannot find device/);
}
