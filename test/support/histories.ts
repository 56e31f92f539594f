/**
 * RECORD_HISTORIES=<change> makes integration tests record the histories of today's workflow code
 * beside the older ones, as `<name>@<change>.json` (e.g. RECORD_HISTORIES=local-db-steps after the
 * patch of that name). A recorded file is never overwritten: old histories are what keeps a change
 * honest, so a new change gets new names.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { requireEnv } from './master';

const execFileAsync = promisify(execFile);

/** `workflows`: file name (without .json) → workflow id. */
export async function recordHistories(workflows: Map<string, string>): Promise<void> {
  const change = process.env.RECORD_HISTORIES;
  if (!change) return;
  if (!/^[a-z0-9-]+$/.test(change)) throw new Error(`RECORD_HISTORIES must name the workflow change (a-z, 0-9, -), got "${change}"`);
  const dir = path.join(__dirname, '..', 'histories');
  await fs.mkdir(dir, { recursive: true });
  for (const [file, workflowId] of workflows) {
    // The CLI writes the history in the proto3 JSON form that replay reads.
    const { stdout } = await execFileAsync(requireEnv('TEMPORAL_CLI_PATH'), [
      'workflow',
      'show',
      '--workflow-id',
      workflowId,
      '--output',
      'json',
      '--address',
      requireEnv('TEMPORAL_ADDRESS'),
    ]);
    // 'wx': fails if the file exists.
    await fs.writeFile(path.join(dir, `${file}@${change}.json`), stdout, { flag: 'wx' });
  }
}
