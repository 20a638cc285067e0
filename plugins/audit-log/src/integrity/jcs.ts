/**
 * RFC 8785 JSON Canonicalization Scheme for the values a committed record holds.
 *
 * JCS serialises strings and numbers exactly as ECMAScript's JSON.stringify does (RFC 8785
 * section 3.2.2), so the only work left is the member order: keys sorted by their UTF-16 code
 * units (section 3.2.3), which is what Array.prototype.sort does without a comparator.
 */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

export function canonicalize(value: JsonValue): string {
  if (typeof value === 'string') return jcsString(value);
  if (value === null || typeof value === 'boolean')
    return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new TypeError('JCS cannot represent NaN or Infinity');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) {
    return `[${value.map(canonicalize).join(',')}]`;
  }
  if (typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys
      .map(k => `${jcsString(k)}:${canonicalize(value[k])}`)
      .join(',')}}`;
  }
  throw new TypeError(`JCS cannot represent a ${typeof value}`);
}

function jcsString(value: string): string {
  // I-JSON (which JCS requires) forbids lone surrogates; UTF-8 encoding would silently turn
  // them into U+FFFD and so change the hash.
  if (/\p{Surrogate}/u.test(value))
    throw new TypeError('JCS input holds a lone surrogate');
  return JSON.stringify(value);
}

/** The canonical form as UTF-8 bytes: what gets hashed. */
export function canonicalBytes(value: JsonValue): Uint8Array {
  return new TextEncoder().encode(canonicalize(value));
}
