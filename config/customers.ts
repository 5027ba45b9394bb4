/**
 * Reading the customer mapping and match-rules files from disk. What a file means — its schema
 * and what is wrong with it — is decided in domain/customers (parseMapping, compileRules); this
 * module only finds and reads the files and names the one at fault.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MappingError, parseMapping, type SourceMapping } from '../domain/customers/mapping';
import { RulesError, compileRules, unknownExtraColumns, type CompiledRules } from '../domain/customers/rules';
import { PROJECT_ROOT } from './index';
// The build copies the default mapping and rules files into dist/ because this module imports them.
import './customerFiles';

export const DEFAULT_MAPPINGS_DIR = path.join(PROJECT_ROOT, 'config', 'customer-mappings');

export function loadMappingFile(file: string): SourceMapping {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new MappingError(`${file}: ${(error as Error).message}`);
  }
  return parseMapping(json, file);
}

/** Every mapping in a folder, by source name. */
export function loadMappings(dir: string = DEFAULT_MAPPINGS_DIR): Map<string, SourceMapping> {
  const out = new Map<string, SourceMapping>();
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const mapping = loadMappingFile(path.join(dir, file));
    if (out.has(mapping.source)) throw new MappingError(`${file}: source "${mapping.source}" is mapped twice in ${dir}`);
    out.set(mapping.source, mapping);
  }
  return out;
}

/** The rules file, compiled; given the mappings, also refused when a rule names an extra column no person mapping keeps. */
export async function loadRulesFile(file: string, mappings?: Iterable<SourceMapping>): Promise<CompiledRules> {
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new RulesError(`${file}: ${(error as Error).message}`);
  }
  const rules = await compileRules(json, file);
  if (mappings) {
    const unknown = unknownExtraColumns(rules.config, mappings);
    if (unknown.length) {
      throw new RulesError(`${file}: ${unknown.map((u) => `rule "${u.rule}" compares extra:${u.column}, a column no person mapping keeps under "extra"`).join('; ')}`);
    }
  }
  return rules;
}
