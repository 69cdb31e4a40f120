import type { AnyValue, KeyValue } from './otlp-json.ts';

/** An OTLP attribute value as plain JavaScript: arrays and key-value lists become arrays and objects. */
export type AttrValue = string | number | boolean | null | AttrValue[] | { [key: string]: AttrValue };

/** Attributes of one span (or resource, or span event), by key. */
export type Attrs = ReadonlyMap<string, AttrValue>;

/** OTLP KeyValue list → Map; a repeated key keeps its last value (the collector's own rule). */
export function toAttrs(list: readonly KeyValue[] | undefined): Map<string, AttrValue> {
  const out = new Map<string, AttrValue>();
  for (const kv of list ?? []) out.set(kv.key, anyValueToJs(kv.value));
  return out;
}

/** OTLP AnyValue → plain JavaScript. int64 strings become numbers (exact up to 2^53 − 1). */
export function anyValueToJs(value: AnyValue | undefined): AttrValue {
  if (value === undefined) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return Number(value.doubleValue);
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(anyValueToJs);
  if (value.kvlistValue !== undefined) {
    const obj: { [key: string]: AttrValue } = {};
    for (const kv of value.kvlistValue.values ?? []) obj[kv.key] = anyValueToJs(kv.value);
    return obj;
  }
  if (value.bytesValue !== undefined) return value.bytesValue;
  return null;
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
