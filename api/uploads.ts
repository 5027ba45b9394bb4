/**
 * Receiving an uploaded file without buffering it, and the refusals every upload route shares.
 * `receiveCsvFile` takes one CSV file as a `text/csv` body or as the one file part of a
 * `multipart/form-data` body and hands its stream to the consumer, which must not publish
 * anything before `beforeCommit` resolves (the rest of a multipart body may still refuse the
 * request). A body that is too large, compressed, in another charset, or cut short is a 4xx
 * problem, never a crash: every stream has an error listener from its first moment, and a refused
 * body is read to its end and dropped so the client gets the answer.
 */
import { Transform, type Readable } from 'node:stream';
import type { Request } from 'express';
import busboy from 'busboy';
import { HttpError } from './errors';

export function badRequest(code: string, field: string, message: string): HttpError {
  return new HttpError(400, 'validation_failed', `${field}: ${message}`, { field, errors: [{ field, code, message }] });
}

/** A multipart body that cannot be read to its end: the client stopped, or lied about the end. */
export function malformedMultipart(reason: string): HttpError {
  const message = `the multipart body cannot be read: ${reason}`;
  return new HttpError(400, 'malformed_multipart', message, { field: 'body', errors: [{ field: 'body', code: 'malformed_multipart', message }] });
}

const tooLarge = (maxBytes: number) => new HttpError(413, 'file_too_large', `the file is larger than ${Math.round(maxBytes / 1048576)} MiB`, { field: 'file' });
const aborted = () => new HttpError(400, 'request_aborted', 'the client stopped sending the upload before its end', { field: 'body' });

/** The end of a multipart upload: fields ignored, errors to `fail`, the close to `done`, a client gone mid-body to an error. */
export function settleMultipart(req: Request, parser: busboy.Busboy, fail: (error: Error) => void, done: () => void): void {
  parser.on('field', () => undefined);
  parser.on('error', fail);
  parser.on('close', () => done());
  req.on('error', fail);
  // The client went away before the end of its body: busboy would wait for ever.
  req.on('close', () => {
    if (!req.complete) parser.destroy(new Error('the client stopped sending the upload before its end'));
  });
}

export interface UploadedFile {
  stream: Readable;
  fileName: string;
  /** Resolves once the whole request is read and accepted; rejects if it refuses the file after all. */
  beforeCommit(): Promise<void>;
}

/**
 * `source` through a byte counter that fails with 413 past `maxBytes`; the rest of the source is
 * then read and dropped, so the request ends and its answer reaches the client.
 */
function limited(source: Readable, maxBytes: number): Transform {
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > maxBytes) return done(tooLarge(maxBytes));
      done(null, chunk);
    },
  });
  counter.on('error', () => {
    source.unpipe(counter);
    source.resume();
  });
  source.on('error', (error) => counter.destroy(error));
  source.pipe(counter);
  return counter;
}

const UTF8 = new Set(['utf-8', 'utf8', 'us-ascii']);

/** Room for the multipart framing around a file of `maxBytes` before a declared length is refused unread. */
const MULTIPART_SLACK = 64 * 1024;

export async function receiveCsvFile<T>(req: Request, maxBytes: number, consume: (file: UploadedFile) => Promise<T>): Promise<T> {
  const encoding = String(req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity') throw new HttpError(415, 'unsupported_encoding', 'send the file uncompressed (no Content-Encoding)', { field: 'body' });
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (req.is('text/csv')) {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
    if (charset && !UTF8.has(charset)) throw new HttpError(415, 'unsupported_charset', `send the CSV as UTF-8 (got charset ${charset})`, { field: 'body' });
    if (declared > maxBytes) throw tooLarge(maxBytes);
    return receiveBody(req, maxBytes, consume);
  }
  if (req.is('multipart/form-data')) {
    if (declared > maxBytes + MULTIPART_SLACK) throw tooLarge(maxBytes);
    return receiveMultipart(req, maxBytes, consume);
  }
  throw new HttpError(415, 'unsupported_media_type', `send the file as text/csv, or as the file part of multipart/form-data (got ${req.headers['content-type'] ?? 'no Content-Type'})`, { field: 'body' });
}

async function receiveBody<T>(req: Request, maxBytes: number, consume: (file: UploadedFile) => Promise<T>): Promise<T> {
  let cut = false;
  const stream = limited(req, maxBytes);
  req.on('close', () => {
    if (!req.complete) {
      cut = true;
      stream.destroy(aborted());
    }
  });
  try {
    return await consume({ stream, fileName: 'upload.csv', beforeCommit: async () => undefined });
  } catch (error) {
    throw cut ? aborted() : error;
  }
}

async function receiveMultipart<T>(req: Request, maxBytes: number, consume: (file: UploadedFile) => Promise<T>): Promise<T> {
  let parser: busboy.Busboy;
  try {
    parser = busboy({ headers: req.headers, limits: { files: 1, fields: 20, parts: 40, fieldSize: 64 * 1024 } });
  } catch (error) {
    // No boundary, an unparsable Content-Type: busboy refuses before reading anything.
    throw malformedMultipart((error as Error).message);
  }
  let broken: Error | null = null;
  let refusal: HttpError | null = null;
  let work: Promise<T> | null = null;
  const read = new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => {
      broken ??= error;
      reject(broken);
    };
    parser.on('file', (_name, stream, info) => {
      stream.on('error', () => undefined);
      // A file name is the client's text: NUL cannot be stored.
      const fileName = (info.filename || 'upload.csv').replaceAll('\u0000', '\uFFFD').slice(0, 500);
      work = consume({
        stream: limited(stream, maxBytes), fileName,
        beforeCommit: async () => {
          await read;
          if (refusal) throw refusal;
        },
      });
      work.catch(() => stream.resume());
    });
    parser.on('filesLimit', () => {
      refusal ??= badRequest('too_many_files', 'body', 'send one file per import');
    });
    settleMultipart(req, parser, fail, resolve);
  });
  read.catch(() => undefined);
  req.pipe(parser);
  try {
    await read;
  } catch {
    await (work as Promise<T> | null)?.catch(() => undefined);
    throw malformedMultipart((broken as Error | null)?.message ?? 'unknown error');
  }
  if (!work) throw refusal ?? badRequest('no_file', 'body', 'send the CSV as a file part (e.g. curl -F file=@leads.csv)');
  try {
    return await (work as Promise<T>);
  } catch (error) {
    if (broken) throw malformedMultipart((broken as Error).message);
    throw error;
  }
}
