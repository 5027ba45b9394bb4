/**
 * A fast CSV record splitter for imports that let PostgreSQL's own `COPY … (FORMAT csv)` split
 * the fields. It finds where each record starts and ends (and on which line), counts its fields
 * and hands it on as text, without building a string per field: a record without quotes is a
 * line as it stands, and a quoted record that follows RFC 4180 to the letter (a quote opens a
 * field and closes it right before a delimiter or the line end, `""` inside) is split here and
 * handed on as its original text too, because COPY reads it into the same fields.
 *
 * Anything else — a stray quote inside a field, a quote that never closes, a carriage return
 * left inside a record — is what csv-parse (the settings of `csvRecordParser`) decides about
 * leniently, and its decisions are the contract. From the first such record on, the rest of the
 * file goes through csv-parse and its records (or its broken records, reported as `broken`) come
 * out with their fields split: a file meets the slow path only from its first irregular record.
 */
import { Transform } from 'node:stream';
import type { CsvError, Parser } from 'csv-parse';
import { csvRecordParser, startLine, trimRaw, type ParsedRecord } from './csvStream';

/** One record: `fields` is null when the record is plain text (`text`) that COPY will split. */
export interface ScannedRecord {
  line: number;
  /** The record's text, without its line end. */
  text: string;
  fieldCount: number;
  /** Split fields when the scanner had to split them (quoted or irregular records). */
  fields: string[] | null;
  /** True when `text` is valid CSV for COPY with the same delimiter (false: only `fields` are). */
  copyable: boolean;
}

/** What to do with each record: the text returned is pushed on (gathered into ~64 KiB chunks). */
export interface ScanSink {
  record(record: ScannedRecord): string;
  /** A record csv-parse could not read at all (an unclosed quote swallowing the file, say). */
  broken(line: number, raw: string, message: string): string;
}

const LF = 10;
const QUOTE = 34;
/** A quoted record still open after this much text goes to csv-parse (it reads incrementally). */
const MAX_PENDING = 1 << 20;

type Quoted = { fields: string[]; end: number; lines: number } | 'incomplete' | 'irregular';

/** An RFC 4180 record from `pos` (a record holding a quote): its fields and where it ends. */
function readStrict(text: string, pos: number, delimiter: string, final: boolean): Quoted {
  const fields: string[] = [];
  let i = pos;
  let lines = 0;
  for (;;) {
    if (text.charCodeAt(i) === QUOTE) {
      let value = '';
      let j = i + 1;
      for (;;) {
        const k = text.indexOf('"', j);
        if (k === -1) return final ? 'irregular' : 'incomplete';
        const piece = text.slice(j, k);
        if (piece.includes('\r')) return 'irregular';
        for (let n = piece.indexOf('\n'); n !== -1; n = piece.indexOf('\n', n + 1)) lines++;
        value += piece;
        if (k + 1 >= text.length) {
          if (!final) return 'incomplete';
          fields.push(value);
          return { fields, end: text.length, lines };
        }
        const next = text[k + 1];
        if (next === '"') {
          value += '"';
          j = k + 2;
          continue;
        }
        if (next === delimiter) {
          fields.push(value);
          i = k + 2;
          break;
        }
        if (next === '\n') {
          fields.push(value);
          return { fields, end: k + 1, lines };
        }
        return 'irregular';
      }
      continue;
    }
    // An unquoted field: up to the next delimiter or line end, holding no quote or carriage return.
    let j = i;
    for (; j < text.length; j++) {
      const c = text[j];
      if (c === delimiter || c === '\n') break;
      if (c === '"' || c === '\r') return 'irregular';
    }
    if (j >= text.length) {
      if (!final) return 'incomplete';
      fields.push(text.slice(i, j));
      return { fields, end: j, lines };
    }
    fields.push(text.slice(i, j));
    if (text[j] === '\n') return { fields, end: j, lines };
    i = j + 1;
  }
}

/**
 * A transform from normalised text (see `normaliseText`) to what the sink makes of each record
 * (COPY text, say), in chunks of about 64 KiB.
 */
export function csvScanner(delimiter: string, sink: ScanSink): Transform {
  let out = '';
  let stream: Transform | null = null;
  const emit = (text: string): void => {
    out += text;
    if (out.length >= 1 << 16) {
      stream!.push(out);
      out = '';
    }
  };
  let pending = '';
  let line = 1;
  let fallback: { parser: Parser; offset: number; ended: Promise<void> } | null = null;

  const toFallback = (text: string): void => {
    const offset = line - 1;
    // Records before this one ended with LF alone (any CR sends a file here): csv-parse, had it
    // read the file from its start, would have settled on LF as the record delimiter there.
    const parser = csvRecordParser(delimiter, offset > 0 ? '\n' : undefined);
    parser.on('data', (item: ParsedRecord) => {
      const raw = trimRaw(item.raw);
      emit(sink.record({ line: offset + startLine(item.info.lines, raw), text: raw, fieldCount: item.record.length, fields: item.record, copyable: false }));
    });
    parser.on('skip', (error: CsvError) => {
      const raw = trimRaw(String((error as unknown as { raw?: string }).raw ?? ''));
      emit(sink.broken(offset + startLine(Number(error.lines ?? 0), raw), raw, error.message));
    });
    const ended = new Promise<void>((resolve, reject) => {
      parser.on('end', resolve);
      parser.on('error', reject);
    });
    fallback = { parser, offset, ended };
    if (text) parser.write(text);
  };

  const scan = (text: string, final: boolean): void => {
    const d = delimiter.charCodeAt(0);
    let pos = 0;
    let nextQuote = text.indexOf('"');
    let nextCr = text.indexOf('\r');
    while (pos < text.length) {
      if (text.charCodeAt(pos) === LF) {
        pos++;
        line++;
        continue;
      }
      let end = text.indexOf('\n', pos);
      if (end === -1) {
        if (!final) break;
        end = text.length;
      }
      if (nextQuote !== -1 && nextQuote < pos) nextQuote = text.indexOf('"', pos);
      if (nextCr !== -1 && nextCr < pos) nextCr = text.indexOf('\r', pos);
      const quoted = nextQuote !== -1 && nextQuote < end;
      if (!quoted && (nextCr === -1 || nextCr >= end)) {
        let count = 1;
        for (let i = pos; i < end; i++) if (text.charCodeAt(i) === d) count++;
        emit(sink.record({ line, text: text.slice(pos, end), fieldCount: count, fields: null, copyable: true }));
        pos = end + 1;
        line++;
        continue;
      }
      const strict = quoted ? readStrict(text, pos, delimiter, final) : 'irregular';
      if (strict === 'incomplete') {
        if (text.length - pos > MAX_PENDING) {
          toFallback(text.slice(pos));
          return;
        }
        break;
      }
      if (strict === 'irregular') {
        toFallback(text.slice(pos));
        return;
      }
      emit(sink.record({ line, text: text.slice(pos, strict.end), fieldCount: strict.fields.length, fields: strict.fields, copyable: true }));
      line += strict.lines + 1;
      pos = strict.end + 1;
    }
    pending = pos >= text.length ? '' : text.slice(pos);
  };

  const finish = (done: (error?: Error | null) => void): void => {
    if (out) stream!.push(out);
    out = '';
    done();
  };
  stream = new Transform({
    decodeStrings: false,
    transform(chunk: string | Buffer, _enc, done) {
      const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      if (fallback) {
        fallback.parser.write(text, () => done());
        return;
      }
      const all = pending ? pending + text : text;
      pending = '';
      scan(all, false);
      done();
    },
    flush(done) {
      if (!fallback && pending) {
        const rest = pending;
        pending = '';
        scan(rest, true);
      }
      const active = fallback as { parser: Parser; ended: Promise<void> } | null;
      if (!active) return finish(done);
      active.ended.then(() => finish(done), done);
      active.parser.end();
    },
  });
  return stream;
}
