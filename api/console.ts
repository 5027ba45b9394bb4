/**
 * The rep's console at /app: the static build of console/ (scripts/lib/console.ts builds it;
 * `npm start` and the Docker image do so). It speaks to the API only through the public routes,
 * with the user's own token. Until it is built, /app says how to build it.
 */
import path from 'node:path';
import fs from 'node:fs';
import express, { type Router } from 'express';
import { PROJECT_ROOT } from '../config';

export const CONSOLE_BUILD_DIR = path.join(PROJECT_ROOT, 'console', 'dist');

/** Only our own scripts, styles and API; no framing, no referrer leaving with a record's id in the URL. */
const SECURITY_HEADERS: Record<string, string> = {
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

export function consoleRouter(dir = CONSOLE_BUILD_DIR): Router {
  const router = express.Router();
  router.use((_req, res, next) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
    next();
  });
  router.use(express.static(dir, {
    index: 'index.html',
    // Bundles are named by their content: cache them for good; index.html is checked each time.
    setHeaders(res, file) {
      res.setHeader('Cache-Control', file.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  }));
  router.get('/', (_req, res, next) => {
    if (fs.existsSync(path.join(dir, 'index.html'))) return next();
    res.status(503).type('text/plain').send('The console is not built yet: run `npm run build:console` (`npm start` builds it).\n');
  });
  return router;
}
