/**
 * A separate process that polls GET /deckies/lifecycle as an operator's dashboard would, so the
 * latency measured is the master's, not that of a benchmark sharing its event loop. Four polling
 * loops run until the parent closes our stdin; then the latencies (ms) are printed as JSON.
 * Usage: node --import tsx bench/lifecycle-poller.ts <api base> <token> <id,id,…>
 */
import { performance } from 'node:perf_hooks';
import { fetch } from 'undici';

async function main() {
  const [apiBase, token, ids] = process.argv.slice(2);
  const url = `${apiBase}/deckies/lifecycle?ids=${ids}`;
  const latencies: number[] = [];
  let polling = true;
  process.stdin.on('end', () => (polling = false)).resume();
  const loop = async () => {
    while (polling) {
      const started = performance.now();
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`lifecycle poll answered ${res.status}`);
      latencies.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  await Promise.all(Array.from({ length: 4 }, loop));
  process.stdout.write(JSON.stringify(latencies));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
