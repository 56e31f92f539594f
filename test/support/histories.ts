/** RECORD_HISTORIES=1 makes integration tests refresh the histories that the replay test checks. */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { requireEnv } from './master';

const execFileAsync = promisify(execFile);

/** `workflows`: file name (without .json) → workflow id. */
export async function recordHistories(workflows: Map<string, string>): Promise<void> {
  if (!process.env.RECORD_HISTORIES) return;
  const dir = path.join(__dirname, '..', 'histories');
  await fs.mkdir(dir, { recursive: true });
  for (const [file, workflowId] of workflows) {
    // The CLI writes the history in the proto3 JSON form that replay reads.
    const { stdout } = await execFileAsync(requireEnv('TEMPORAL_CLI_PATH'), [
      'workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--address', requireEnv('TEMPORAL_ADDRESS'),
    ]);
    await fs.writeFile(path.join(dir, `${file}.json`), stdout);
  }
}
