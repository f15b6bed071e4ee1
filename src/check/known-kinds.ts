/**
 * The finding kinds hmmsim's own layers report, for one purpose: when a scenario expects a kind
 * that was not found and that no layer reports (and the scenario does not report itself from its
 * check), the verdict says so and suggests the nearest known kind: 'dedlock' is a typo, not a
 * bug that went unfound. Layers that add kinds add them here; a kind missing from this list only
 * loses the hint, never changes a verdict.
 */
import { FindingKind } from '../sim/finding.js';
import { GENERATOR_PROTOCOL } from '../sim/protocol.js';
import { NONDETERMINISM } from '../sim/nondeterminism.js';

/** Kinds reported by hmmsim's layers. */
export const KNOWN_KINDS: ReadonlySet<string> = new Set([
  ...Object.values(FindingKind),
  GENERATOR_PROTOCOL,
  NONDETERMINISM,
  'soft-lockup',
  // lockdep
  'lockdep-bad-unlock', 'lockdep-circular', 'lockdep-held-at-exit', 'lockdep-held-freed', 'lockdep-limit',
  'lockdep-nested-not-taken', 'lockdep-recursive', 'sleep-in-atomic', 'non-block-imbalance', 'nonblock-contract',
  // notifier
  'api-unavailable', 'callback-after-remove', 'callback-after-unregister', 'kernel-itree-leak', 'quiescence',
  'sequence-protocol', 'unpaired-invalidate', 'stale-device-mapping', 'device-maps-freed-page', 'map-in-invalidation-window',
  'end-without-start', 'double-insert', 'double-unregister', 'kmalloc-bad-size',
  // mm
  'bad-page-state', 'bad-swap-entry', 'frame-freed-while-locked', 'frame-freed-while-mapped', 'frame-mapcount-underflow',
  'frame-put-on-free', 'frame-use-after-free', 'mm-inconsistent', 'mm-leak', 'page-use-after-free', 'swap-count-underflow',
  'swap-slot-free', 'zero-page-write',
]);

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * Why an expected kind that was not found may be a mistake: it is no layer's kind and the
 * scenario's own code (`source`, its functions' text) never names it. Null when it is plausible.
 */
export function unknownKindHint(kind: string, source: string): string | null {
  if (KNOWN_KINDS.has(kind) || source.includes(kind)) return null;
  let best = '';
  let bestD = Infinity;
  for (const k of KNOWN_KINDS) {
    const dd = distance(kind, k);
    if (dd < bestD) [best, bestD] = [k, dd];
  }
  const guess = bestD <= Math.max(2, Math.floor(kind.length / 4)) ? `; did you mean '${best}'?` : '';
  return `'${kind}' is a kind nothing in hmmsim reports and the scenario never reports itself${guess}`;
}

/** `report` with a note for each missing expected kind that looks like a mistake. */
export function withKindHints<R extends { readonly missing: readonly string[]; readonly notes?: readonly string[] }>(report: R, scenario: { readonly definition: object }): R {
  if (report.missing.length === 0) return report;
  // The scenario's code, not its expectations: naming a kind in `expect` is not reporting it.
  const source = Object.entries(scenario.definition)
    .filter(([k]) => k !== 'expect' && k !== 'allow')
    .map(([, v]) => v)
    .flatMap((v) => (typeof v === 'function' ? [String(v)] : typeof v === 'object' && v !== null ? Object.values(v).map(String) : []))
    .join('\n');
  const notes = report.missing.map((k) => unknownKindHint(k, source)).filter((n): n is string => n !== null);
  return notes.length === 0 ? report : { ...report, notes: [...(report.notes ?? []), ...notes] };
}
