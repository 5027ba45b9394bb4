/**
 * The route a request matched, as declared (`/deals/:id`), so every deal's requests share one name:
 * the metrics' `route` label and the name of the request's trace span.
 */
import type { Request } from 'express';

/** Paths served outside the route table, named by their prefix. */
const MOUNTED_PREFIXES = ['/app', '/docs'];

export function routeLabel(req: Request, status: number): string {
  if (req.route?.path && typeof req.route.path === 'string') return `${req.baseUrl}${req.route.path}`;
  const prefix = MOUNTED_PREFIXES.find((p) => req.originalUrl === p || req.originalUrl.startsWith(`${p}/`) || req.originalUrl.startsWith(`${p}?`));
  if (prefix) return prefix;
  return status === 404 ? 'unmatched' : 'other';
}
