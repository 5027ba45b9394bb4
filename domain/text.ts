/**
 * What text the service accepts. Postgres cannot store NUL (U+0000) in a text column (SQLSTATE
 * 22021), and a string with an unpaired UTF-16 surrogate has no UTF-8 form: Node would store a
 * silent U+FFFD instead of what the client sent. Both are refused at the edge, in every field, so
 * nothing downstream (a workflow, an activity, a store) ever meets them.
 */

export type TextFault = 'nul_character' | 'unpaired_surrogate';

export function textFault(value: string): TextFault | null {
  if (value.includes('\u0000')) return 'nul_character';
  if (!value.isWellFormed()) return 'unpaired_surrogate';
  return null;
}

export interface BadText {
  /** Dotted path of the offending value (or key), e.g. `lines.0.note`. */
  path: string;
  fault: TextFault;
}

/** The first string (value or object key) in a JSON-like value that the service cannot store. */
export function findBadText(value: unknown, path = ''): BadText | null {
  if (typeof value === 'string') {
    const fault = textFault(value);
    return fault ? { path, fault } : null;
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findBadText(value[i], path ? `${path}.${i}` : String(i));
      if (found) return found;
    }
    return null;
  }
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const at = path ? `${path}.${key}` : key;
      const keyFault = textFault(key);
      if (keyFault) return { path: at, fault: keyFault };
      const found = findBadText(item, at);
      if (found) return found;
    }
  }
  return null;
}

export const TEXT_FAULT_MESSAGES: Record<TextFault, string> = {
  nul_character: 'contains a NUL character (U+0000), which cannot be stored',
  unpaired_surrogate: 'contains an unpaired UTF-16 surrogate: it is not valid Unicode text',
};
