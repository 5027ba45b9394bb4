/** The real API on a free port, and a small client that speaks to it over HTTP. */
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { loadConfig } from '../../config';
import { createApp } from '../../api/app';
import { createApiServer } from '../../api/server';
import type { Db } from '../../db/knex';
import { assertResponseMatchesContract } from './contract';
import { testLog } from './temporal';

export interface TestApi {
  url: string;
  close(): Promise<void>;
}

export async function startTestApi(db: Db, temporal: Client, taskQueue: string): Promise<TestApi> {
  const server = createApiServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  server.on('request', createApp({ db, temporal, taskQueue, log: testLog, publicUrl: url, customers: loadConfig().customers }));
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface Reply<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * One request to the API; the response must match the operation's documented response for its
 * status (test/helpers/contract.ts), or the test that made it fails. A JSON body is parsed.
 */
export async function apiRequest<T = unknown>(
  baseUrl: string, method: string, path: string,
  init: { headers?: Record<string, string>; body?: RequestInit['body']; redirect?: 'follow' | 'manual' } = {},
): Promise<Reply<T>> {
  const response = await fetch(`${baseUrl}${path}`, { method, headers: init.headers, body: init.body, redirect: init.redirect });
  const text = await response.text();
  const contentType = response.headers.get('content-type');
  await assertResponseMatchesContract(baseUrl, method, response.url || path, response.status, contentType, text);
  const json = /json/.test(contentType ?? '');
  return { status: response.status, body: text && json ? JSON.parse(text) : text || undefined, headers: response.headers };
}

export function client(baseUrl: string, token?: string) {
  function call<T = unknown>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply<T>> {
    return apiRequest<T>(baseUrl, method, path, {
      headers: {
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
  }
  return {
    get: <T = unknown>(path: string, headers?: Record<string, string>) => call<T>('GET', path, undefined, headers),
    post: <T = unknown>(path: string, body?: unknown, headers?: Record<string, string>) => call<T>('POST', path, body, headers),
    patch: <T = unknown>(path: string, body?: unknown, headers?: Record<string, string>) => call<T>('PATCH', path, body, headers),
    put: <T = unknown>(path: string, body?: unknown, headers?: Record<string, string>) => call<T>('PUT', path, body, headers),
    del: <T = unknown>(path: string, headers?: Record<string, string>) => call<T>('DELETE', path, undefined, headers),
  };
}
