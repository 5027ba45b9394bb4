/**
 * The API's OpenAPI document without a running stack: the app is built over a database it never
 * connects to and a Temporal client it never calls, and asked for /openapi.json in-process.
 */
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { createApp } from '../../api/app';
import { createApiServer } from '../../api/server';
import { loadConfig } from '../../config';
import { createLogger } from '../../config/logger';
import { createDb } from '../../db/knex';

export async function openApiDocument(publicUrl = 'http://localhost:3000'): Promise<Record<string, unknown>> {
  const db = createDb('postgres://unused@127.0.0.1:1/unused');
  const app = createApp({ db, temporal: {} as Client, taskQueue: 'unused', log: createLogger('silent'), publicUrl, customers: loadConfig().customers });
  const server = createApiServer(app);
  try {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const response = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/openapi.json`);
    if (!response.ok) throw new Error(`/openapi.json answered ${response.status}`);
    return (await response.json()) as Record<string, unknown>;
  } finally {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await db.destroy();
  }
}
