/**
 * bench/input-bounds: the input checks that run before any work, on the largest bodies the API
 * takes (not a test; it prints a table and asserts nothing). No services needed.
 *  - the INI scanner on 512 KB of tiny sections (`[a1]`, `[a2]`, …): was quadratic in the
 *    sections (about 9 s), must be linear: the time per section stays flat as the file doubles;
 *  - the same file under the deployment limit's maximum (500): refused after the scan, before
 *    any decky is built;
 *  - the JSON nesting check on a 1 MB body of nested arrays: one iterative pass, no recursion.
 */
import { parseFleetIni } from '../src/domain/ini';
import { jsonNestingDepth, MAX_JSON_DEPTH } from '../src/api/input-guards';
import { DEPLOYMENT_LIMIT_MAX, INI_MAX_BYTES } from '../src/domain/schemas';
import { median, ms, printTable, type Figure } from './support';

const RUNS = 5;

/** `[a0]\n[a1]\n…` up to `bytes`. */
function tinySections(bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  for (let i = 0; size + `[a${i}]\n`.length <= bytes; i++) {
    lines.push(`[a${i}]\n`);
    size += lines[i].length;
  }
  return lines.join('');
}

function timed(run: () => void): number {
  const times = Array.from({ length: RUNS }, () => {
    const start = performance.now();
    run();
    return performance.now() - start;
  });
  return median(times);
}

function parseIgnoringRefusal(text: string, maxDeckies?: number) {
  try {
    parseFleetIni(text, { maxDeckies });
  } catch (err) {
    if (!(err instanceof Error) || !/deployment limit/.test(err.message)) throw err;
  }
}

function main() {
  const figures: Figure[] = [];
  const perSection: number[] = [];
  for (const kb of [128, 256, 512]) {
    const text = tinySections(kb * 1024);
    const sections = text.split('\n').length - 1;
    // The API's path: scanned, then refused under the limit's maximum before any decky is built.
    const scanned = timed(() => parseIgnoringRefusal(text, DEPLOYMENT_LIMIT_MAX));
    perSection.push(scanned / sections);
    figures.push({
      figure: `INI of ${kb} KB tiny sections (${sections}): scanned and refused over the limit's maximum (${DEPLOYMENT_LIMIT_MAX}), median of ${RUNS}`,
      target: kb === 512 ? '≤ 200 ms' : '—',
      measured: ms(scanned),
    });
  }
  figures.push({
    figure: 'INI scan time per section, 512 KB vs 128 KB (1.0 = linear, 4.0 = quadratic)',
    target: '≤ 2×',
    measured: `${(perSection[2] / perSection[0]).toFixed(2)}×`,
  });
  const full = tinySections(INI_MAX_BYTES);
  figures.push({
    figure: `INI of 512 KB tiny sections, every one built as a decky (no limit), median of ${RUNS}`,
    target: '≤ 1,000 ms',
    measured: ms(timed(() => parseFleetIni(full))),
  });
  const depth = 512 * 1024;
  const nested = '['.repeat(depth) + ']'.repeat(depth);
  figures.push({
    figure: `JSON nesting check, 1 MB of nested arrays (refused past ${MAX_JSON_DEPTH}), median of ${RUNS}`,
    target: '≤ 10 ms',
    measured: ms(timed(() => jsonNestingDepth(nested, MAX_JSON_DEPTH))),
  });
  const flat = JSON.stringify({ deckies: Array.from({ length: 20_000 }, (_, i) => ({ name: `d${i}`, services: ['ssh', 'http'] })) });
  figures.push({
    figure: `JSON nesting check, a ${(flat.length / 1024).toFixed(0)} KB flat deploy body (scanned to the end), median of ${RUNS}`,
    target: '≤ 20 ms',
    measured: ms(timed(() => jsonNestingDepth(flat, MAX_JSON_DEPTH))),
  });
  printTable('bench/input-bounds', figures);
}

main();
