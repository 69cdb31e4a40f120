import type { AnyValue } from './otlp-json.ts';

/** An OTLP attribute value as plain JavaScript: arrays and key-value lists become arrays and objects. */
export type AttrValue = string | number | boolean | null | AttrValue[] | { [key: string]: AttrValue };

/** Attributes of one span (or resource, or span event), by key. */
export type Attrs = ReadonlyMap<string, AttrValue>;

/**
 * OTLP KeyValue list → Map; a repeated key keeps its last value (the collector's own rule).
 * Lenient, as the list is not schema-checked: an entry without a string key is ignored.
 */
export function toAttrs(list: readonly unknown[] | undefined): Map<string, AttrValue> {
  const out = new Map<string, AttrValue>();
  for (const kv of list ?? []) {
    if (isObject(kv) && typeof kv.key === 'string') out.set(kv.key, anyValueToJs(kv.value));
  }
  return out;
}

/**
 * OTLP AnyValue → plain JavaScript. int64 strings become numbers (exact up to 2^53 − 1); a
 * member of the wrong type (`intValue: "x"`, `stringValue: 5`) reads as null, i.e. absent.
 */
export function anyValueToJs(value: unknown, depth = 0): AttrValue {
  if (!isObject(value) || depth > 16) return null;
  const v = value as AnyValue;
  if (v.stringValue !== undefined) return typeof v.stringValue === 'string' ? v.stringValue : null;
  if (v.boolValue !== undefined) return typeof v.boolValue === 'boolean' ? v.boolValue : null;
  if (v.intValue !== undefined) return int64(v.intValue);
  if (v.doubleValue !== undefined) return typeof v.doubleValue === 'number' || typeof v.doubleValue === 'string' ? Number(v.doubleValue) : null;
  if (v.arrayValue !== undefined) {
    const values: unknown = isObject(v.arrayValue) ? v.arrayValue.values : undefined;
    return Array.isArray(values) ? values.map((x) => anyValueToJs(x, depth + 1)) : [];
  }
  if (v.kvlistValue !== undefined) {
    const obj: { [key: string]: AttrValue } = {};
    const values: unknown = isObject(v.kvlistValue) ? v.kvlistValue.values : undefined;
    if (Array.isArray(values)) for (const kv of values) if (isObject(kv) && typeof kv.key === 'string') obj[kv.key] = anyValueToJs(kv.value, depth + 1);
    return obj;
  }
  if (v.bytesValue !== undefined) return typeof v.bytesValue === 'string' ? v.bytesValue : null;
  return null;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function int64(v: unknown): number | null {
  if (typeof v === 'number') return Number.isInteger(v) ? v : null;
  return typeof v === 'string' && /^-?\d{1,20}$/.test(v) ? Number(v) : null;
}

/** A scalar attribute as text (ids may arrive as ints); undefined for absent, empty or structured values. */
export function attrText(value: AttrValue | undefined): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === 'boolean') return String(value);
  return undefined;
}

/** A finite number, from a number or a numeric string (some SDKs stringify counts). */
export function attrNumber(value: AttrValue | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && /^\s*-?\d+(\.\d+)?([eE][+-]?\d+)?\s*$/.test(value)) return Number(value);
  return undefined;
}

/** The first of `keys` that `attrs` holds with a usable value (`read` decides what is usable). */
export function firstOf<T>(attrs: Attrs, keys: readonly string[], read: (v: AttrValue | undefined) => T | undefined): T | undefined {
  for (const key of keys) {
    const v = read(attrs.get(key));
    if (v !== undefined) return v;
  }
  return undefined;
}
