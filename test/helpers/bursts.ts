/**
 * Concurrent requests for the tests: a bounded pool, and the final answer of a request whose Update
 * outlived the API's deadline.
 */
import type { Reply } from './http';

/** Runs `work` over `items`, at most `limit` at a time; the results in the items' order. */
export async function inPool<T, R>(items: T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index], index);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** How long a test waits for an Update answered 503 `still_processing` to finish. */
const SETTLE_TIMEOUT_MS = 60_000;

/**
 * The request's outcome: a 503 `still_processing` with a `Location` is not an answer yet, so the
 * Location is polled (with the same credentials) until it gives one. Any other reply is final,
 * including a 503 without a Location: a client could not know whether it took effect.
 */
export async function settled(baseUrl: string, reply: Reply, token?: string): Promise<Reply> {
  const location = reply.headers.get('location');
  if (reply.status !== 503 || reply.body?.code !== 'still_processing' || !location) return reply;
  const url = new URL(location, baseUrl).toString();
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    const response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    const text = await response.text();
    const polled: Reply = { status: response.status, body: text && /json/.test(response.headers.get('content-type') ?? '') ? JSON.parse(text) : text, headers: response.headers };
    const pending = polled.status === 202 || (polled.status === 503 && polled.body?.code === 'still_processing');
    if (!pending || Date.now() > deadline) return polled;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
