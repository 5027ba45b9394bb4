/**
 * Concurrent requests for the tests: a bounded pool, and the final answer of a request whose Update
 * outlived the API's deadline.
 */
import type { OperationView, Problem } from './apiTypes';
import { apiRequest, type Reply } from './http';

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
 * operation at the Location is polled (with the same credentials) until it is final, and stands in
 * for the answer: `succeeded` as a 200 (with the workflow's result), `failed` as the problem it
 * carries, `not_applied` as a 409 `not_applied` (nothing was written). Any other reply is final,
 * including a 503 without a Location: a client could not know whether it took effect.
 */
export async function settled(baseUrl: string, reply: Reply<unknown>, token?: string): Promise<Reply<unknown>> {
  const location = reply.headers.get('location');
  if (reply.status !== 503 || (reply.body as Problem | undefined)?.code !== 'still_processing' || !location) return reply;
  const url = new URL(location, baseUrl);
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  for (;;) {
    const polled = await apiRequest<OperationView>(baseUrl, 'GET', `${url.pathname}${url.search}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
    const { body } = polled;
    if (polled.status !== 200) return polled;
    if (body.status === 'succeeded') return { status: 200, body: body.result, headers: polled.headers };
    if (body.status === 'failed') return { status: body.problem!.status, body: body.problem, headers: polled.headers };
    if (body.status === 'not_applied') return { status: 409, body: { code: 'not_applied' }, headers: polled.headers };
    if (Date.now() > deadline) return reply;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
