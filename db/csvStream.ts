/**
 * The pieces every streaming CSV import shares (customer files, lead files): bytes to clean UTF-8
 * text, the parser settings that keep a bad record from stopping the file, the line a record
 * starts on, and the COPY text form of a value, so a rejected row's raw text can be stored as is.
 */
import { Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { parse, type Parser } from 'csv-parse';

/** Longest raw text a report keeps of one record. */
export const MAX_RAW = 4000;

export const clipRaw = (raw: string): string => (raw.length > MAX_RAW ? `${raw.slice(0, MAX_RAW)}…` : raw);

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** COPY text-format field. */
export function copyField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  const text = typeof value === 'string' ? value : String(value);
  // COPY cannot carry NUL at all: a rejected row's raw text shows it as U+FFFD (accepted rows never hold one).
  const storable = text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : text;
  if (!NEEDS_ESCAPE.test(storable)) return storable;
  return storable.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** UTF-8 decoding, BOM removal and CRLF → LF, so csv-parse counts lines right. */
export function normaliseText(onBytes: (chunk: Buffer) => void): Transform {
  const decoder = new StringDecoder('utf8');
  let first = true;
  let heldCr = false;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      onBytes(chunk);
      let text = (heldCr ? '\r' : '') + decoder.write(chunk);
      heldCr = text.endsWith('\r');
      if (heldCr) text = text.slice(0, -1);
      if (first && text.length) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        first = false;
      }
      done(null, text.replace(/\r\n/g, '\n'));
    },
    flush(done) {
      done(null, (heldCr ? '\r' : '') + decoder.end());
    },
  });
}

/** The record's text without the empty lines before it and its line end. */
export function trimRaw(raw: string): string {
  let start = 0;
  let end = raw.length;
  while (start < end && raw.charCodeAt(start) === 10) start++;
  if (end > start && raw.charCodeAt(end - 1) === 10) end--;
  return start === 0 && end === raw.length ? raw : raw.slice(start, end);
}

/** The line a record starts on: csv-parse reports the line it ends on. */
export function startLine(endLine: number, body: string): number {
  let inner = 0;
  for (let i = body.indexOf('\n'); i !== -1; i = body.indexOf('\n', i + 1)) inner++;
  return endLine - inner;
}

/** What csv-parse hands on per record with `raw` and `info` on. */
export interface ParsedRecord {
  record: string[];
  raw: string;
  info: { lines: number };
}

/**
 * A parser that reports a broken record (an unclosed quote, say) through its `skip` event and goes
 * on, keeps each record's raw text and line, and leaves column counts to the caller. The record
 * delimiter is found in the text unless given (a parser started mid-file is told the file's).
 */
export function csvRecordParser(delimiter = ',', recordDelimiter?: string): Parser {
  return parse({
    delimiter,
    ...(recordDelimiter ? { record_delimiter: recordDelimiter } : {}),
    relax_column_count: true,
    relax_quotes: true,
    skip_records_with_error: true,
    skip_empty_lines: true,
    info: true,
    raw: true,
  });
}

/**
 * Gathers COPY lines into chunks of about 64 KiB: one COPY message per row would cost more than
 * the parsing. `emit` pushes a full chunk into the stream; `rest` is what the flush must push.
 */
export function copyChunks(): { emit(text: string, stream: Transform): void; rest(): string | undefined } {
  let pending = '';
  return {
    emit(text, stream) {
      pending += text;
      if (pending.length >= 1 << 16) {
        stream.push(pending);
        pending = '';
      }
    },
    rest: () => pending || undefined,
  };
}
