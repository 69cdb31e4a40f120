export * from './common.ts';
export * from './span.ts';
export * from './control.ts';
export * from './finding.ts';
export { canonicalJson } from './canonical.ts';
