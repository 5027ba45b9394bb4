/** What the MailDev catch-all of the test run has received. */
import type { ReceivedEmail } from '../../scripts/lib/services';
import { testEnv } from './env';

export async function emailsTo(address: string): Promise<ReceivedEmail[]> {
  const response = await fetch(`${testEnv.mailWebUrl}/email`);
  const all = (await response.json()) as ReceivedEmail[];
  return all.filter((m) => m.to.some((t) => t.address.toLowerCase() === address.toLowerCase()));
}
