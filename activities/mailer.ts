/**
 * Sends email over SMTP (nodemailer). The dev stack points it at MailDev's catch-all; production
 * at the company relay (SMTP_* variables). A 5xx answer is permanent (the address bounced);
 * anything else is transient and left to the activity's retry policy.
 */
import nodemailer from 'nodemailer';
import type { SmtpConfig } from '../config';

export interface OutgoingEmail {
  to: string;
  subject: string;
  text: string;
  html: string;
  /** Stable per workflow step, so a resend after a crash is recognisable as the same message. */
  messageId: string;
  /** Extra headers, e.g. List-Unsubscribe on sequence emails. */
  headers?: Record<string, string>;
}

export interface Mailer {
  send(email: OutgoingEmail): Promise<void>;
  close(): void;
}

export class PermanentMailError extends Error {
  override name = 'PermanentMailError';
}

export function createSmtpMailer(smtp: SmtpConfig & { host: string }): Mailer {
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.secure,
    auth: smtp.user ? { user: smtp.user, pass: smtp.password ?? '' } : undefined,
    // A catch-all on localhost has no certificate; a real relay is reached with secure=true.
    tls: { rejectUnauthorized: smtp.secure },
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    async send(email) {
      try {
        await transport.sendMail({ from: smtp.from, ...email });
      } catch (error) {
        const responseCode = (error as { responseCode?: number }).responseCode;
        if (responseCode && responseCode >= 500 && responseCode < 600) {
          throw new PermanentMailError(`the mail server refused ${email.to}: ${(error as Error).message}`);
        }
        throw error;
      }
    },
    close: () => transport.close(),
  };
}
