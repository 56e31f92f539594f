/**
 * The web UI (web/, built by Vite into web/dist) at `/`: static files, and index.html for any
 * other GET outside /api so that the UI's own paths (/fleet, /swarm, …) load on refresh.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import express, { type Router } from 'express';

/** Everything the UI loads comes from this origin; links to the Temporal Web UI are plain navigation. */
const CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

/** web/dist of the checkout, found by walking up (works from src/api and from dist/src/api). */
export function defaultWebDistDir(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'web', 'index.html'))) return join(dir, 'web', 'dist');
    if (dirname(dir) === dir) return join(process.cwd(), 'web', 'dist');
  }
}

export function webUiRouter(dir = defaultWebDistDir()): Router {
  const router = express.Router();
  const index = join(dir, 'index.html');
  router.use(
    express.static(dir, {
      index: false,
      fallthrough: true,
      // Vite puts a content hash in every asset name; index.html must always be fetched afresh.
      setHeaders(res, file) {
        res.setHeader('Cache-Control', file.startsWith(join(dir, 'assets')) ? 'public, max-age=31536000, immutable' : 'no-cache');
        if (file.endsWith('.html')) res.setHeader('Content-Security-Policy', CSP);
      },
    }),
  );
  router.use((req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || req.path === '/api' || req.path.startsWith('/api/') || !req.accepts('html')) return next();
    if (!existsSync(index)) {
      res.status(503).type('text').send('The web UI is not built: run `npm run build:web` (scripts/setup.sh does it).\n');
      return;
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.setHeader('Content-Security-Policy', CSP);
    res.sendFile(index);
  });
  return router;
}
