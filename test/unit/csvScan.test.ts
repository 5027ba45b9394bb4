/**
 * The fast record splitter of the customer import must cut a file into the same records, on the
 * same lines, with the same fields, as csv-parse does with the import's settings — on plain files,
 * RFC 4180 quoting, and the irregular CSV it hands over to csv-parse.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import type { CsvError } from 'csv-parse';
import { csvScanner } from '../../db/csvScan';
import { csvRecordParser, startLine, trimRaw, type ParsedRecord } from '../../db/csvStream';

type Seen = Array<[number, string[] | string]>;

async function viaScanner(text: string, chunk: number): Promise<Seen> {
  const seen: Seen = [];
  const scanner = csvScanner(',', {
    record(r) {
      seen.push([r.line, r.fields ?? r.text.split(',')]);
      assert.equal(r.fieldCount, (r.fields ?? r.text.split(',')).length);
      return '';
    },
    broken(line, raw) {
      seen.push([line, `broken:${raw}`]);
      return '';
    },
  });
  const parts: string[] = [];
  for (let i = 0; i < text.length; i += chunk) parts.push(text.slice(i, i + chunk));
  await pipeline(Readable.from(parts), scanner, new Writable({ write: (_c, _e, done) => done() }));
  return seen;
}

async function viaCsvParse(text: string): Promise<Seen> {
  const seen: Seen = [];
  const parser = csvRecordParser(',');
  parser.on('skip', (error: CsvError) => {
    const raw = trimRaw(String((error as unknown as { raw?: string }).raw ?? ''));
    seen.push([startLine(Number(error.lines ?? 0), raw), `broken:${raw}`]);
  });
  await pipeline(Readable.from([text]), parser, new Writable({
    objectMode: true,
    write(item: ParsedRecord, _e, done) {
      seen.push([startLine(item.info.lines, trimRaw(item.raw)), item.record]);
      done();
    },
  }));
  return seen;
}

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('csvScanner: the fast record splitter', function () {
  it('cuts awkward files exactly as csv-parse does', async function () {
    const cases = [
      'a,b,c\n1,2,3\n4,5,6',
      'a,b\n\n\n1,2\n\n',
      'a,b\n"x, y","multi\nline"\n3,4\n',
      'a,b\n"say ""hi""",2\n',
      'a,b\n1,2\nC7,"Unclosed,Moss\n5,6\n',
      'a,b\nx"y,2\n3,4\n',
      'a,b\n"q" ,2\n3,4\n',
      'a,b\n1,2\r3\n4,5\n',
      'a,b\n"",""\n,\n',
      'a,b\n"a\n\nb",c\n\nd,e',
      'only\n  \n',
    ];
    for (const text of cases) {
      const expected = await viaCsvParse(text);
      for (const chunk of [1, 3, 7, 1000]) assert.deepEqual(await viaScanner(text, chunk), expected, `${JSON.stringify(text)} in chunks of ${chunk}`);
    }
  });

  it('agrees with csv-parse on 400 random files', async function () {
    this.timeout(60_000);
    const next = random(7);
    const pieces = ['a', 'bc', ' ', ',', ',', '\n', '\n', '"', '""', '"x,y"', '"m\nn"', 'é', '\r\n', '\r'];
    for (let n = 0; n < 400; n++) {
      let text = 'h1,h2,h3\n';
      const length = Math.floor(next() * 40);
      for (let i = 0; i < length; i++) text += pieces[Math.floor(next() * pieces.length)];
      const expected = await viaCsvParse(text);
      assert.deepEqual(await viaScanner(text, 1 + Math.floor(next() * 9)), expected, JSON.stringify(text));
    }
  });
});
