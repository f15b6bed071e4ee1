/**
 * The finding kinds hmmsim's own layers report, and what it makes of an `expect` that names a kind
 * nothing can report: no layer reports it, and the scenario never names it (neither in its
 * definition's code nor in the file it is defined in), so the verdict could only ever be 'not
 * found'. That is bad input ('dedlock' is a typo, not a bug that went unfound): `check` and
 * `merge` refuse it with one line that names the nearest known kind. Layers that add kinds add
 * them here; a test keeps the list complete against the sources.
 */
import { readFileSync } from 'node:fs';
import { LIVELOCK, STARVED_BY_INVALIDATIONS, STARVED_BY_NOOP_INVALIDATIONS, STARVED_BY_SELF_INVALIDATION } from '../devices/gpu-svm.js';
import { NO_PROGRESS } from '../devices/kvm-like.js';
import { DEVICE_MAPS_MIGRATED_PAGE } from '../hmm/migrate-oracle.js';
import { INV_EXCL, INV_EXCL_FORK } from '../hmm/device-exclusive-oracle.js';
import { HMM_RANGE_DOUBLE_REGISTER, HMM_RANGE_UNBALANCED, HMM_RANGE_USE_AFTER_UNREGISTER } from '../hmm/legacy/kinds.js';
import { KERNEL_VERSIONS } from '../locking/version.js';
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
  'lockdep-bad-unlock', 'lockdep-circular', 'lockdep-debug-warn', 'lockdep-held-at-exit', 'lockdep-held-freed',
  'lockdep-inconsistent', 'lockdep-irq-inversion', 'lockdep-irq-safe-unsafe', 'lockdep-limit', 'lockdep-nested-not-taken',
  'lockdep-recursive', 'lockdep-wait-context', 'sleep-in-atomic', 'non-block-imbalance', 'nonblock-contract',
  // notifier
  'api-unavailable', 'callback-after-remove', 'callback-after-unregister', 'kernel-itree-leak', 'quiescence',
  'sequence-protocol', 'unpaired-invalidate', 'stale-device-mapping', 'device-maps-freed-page', 'map-in-invalidation-window',
  'end-without-start', 'double-insert', 'double-unregister', 'kmalloc-bad-size',
  // mm
  'bad-page-state', 'bad-swap-entry', 'frame-freed-while-locked', 'frame-freed-while-mapped', 'frame-mapcount-underflow',
  'frame-put-on-free', 'frame-use-after-free', 'frame-unpin-unpinned', 'frame-split-refused', 'mm-inconsistent', 'mm-leak',
  'page-use-after-free', 'swap-count-underflow', 'swap-slot-free', 'zero-page-write',
  // hmm, device-exclusive, the legacy HMM API
  DEVICE_MAPS_MIGRATED_PAGE, INV_EXCL, INV_EXCL_FORK, HMM_RANGE_DOUBLE_REGISTER, HMM_RANGE_UNBALANCED, HMM_RANGE_USE_AFTER_UNREGISTER,
  // driver models
  LIVELOCK, STARVED_BY_INVALIDATIONS, STARVED_BY_NOOP_INVALIDATIONS, STARVED_BY_SELF_INVALIDATION, NO_PROGRESS,
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

/** What is wrong with an expected kind nothing reports, with the nearest known kind if one is near. */
export function unknownKindHint(kind: string): string {
  let best = '';
  let bestD = Infinity;
  for (const k of KNOWN_KINDS) {
    const dd = distance(kind, k);
    if (dd < bestD) [best, bestD] = [k, dd];
  }
  const guess = bestD <= Math.max(2, Math.floor(kind.length / 4)) ? `; did you mean '${best}'?` : '';
  return `'${kind}', a kind nothing in hmmsim reports and the scenario never reports itself${guess}`;
}

/**
 * Whether the scenario's own code names `kind`: its definition's functions, or a line of its file
 * other than an `expect` line (`const MY_KIND = 'my-kind'`, `fail(why, 'my-kind')` in a helper).
 */
function namedByScenario(kind: string, functions: string, files: readonly string[]): boolean {
  if (functions.includes(kind)) return true;
  const quoted = [`'${kind}'`, `"${kind}"`, `\`${kind}\``];
  return files.some((f) => f.split('\n').some((line) => !/\bexpect\b/.test(line) && quoted.some((q) => line.includes(q))));
}

/** The scenario's definition's functions as text, and the text of its files. */
function scenarioText(scenario: { readonly definition: object; readonly definedIn?: string | null }, file: string | null): { functions: string; files: string[] } {
  // The scenario's code, not its expectations: naming a kind in `expect` is not reporting it.
  const functions = Object.entries(scenario.definition)
    .filter(([k]) => k !== 'expect' && k !== 'allow')
    .map(([, v]) => v)
    .flatMap((v) => (typeof v === 'function' ? [String(v)] : typeof v === 'object' && v !== null ? Object.values(v).map(String) : []))
    .join('\n');
  const files: string[] = [];
  for (const f of new Set([file, scenario.definedIn ?? null])) {
    if (f === null) continue;
    try {
      files.push(readFileSync(f, 'utf8'));
    } catch {
      // not a readable file (a generated module): the functions' text must do
    }
  }
  return { functions, files };
}

/** A scenario as the validation needs it. */
export interface ExpectingScenario {
  readonly name: string;
  readonly definition: object;
  readonly definedIn?: string | null;
  expectFor(kernel: string | undefined): readonly string[];
}

/**
 * The kinds `scenario` expects (under any kernel contract) that nothing can report, with why,
 * in one line each: the scenario can only fail. Empty when every expectation is plausible.
 * `file` is the scenario file the command loaded it from, if any.
 */
export function unreportableExpectations(scenario: ExpectingScenario, file: string | null = null): string[] {
  const expected = new Set<string>();
  for (const v of KERNEL_VERSIONS) for (const k of scenario.expectFor(v.name)) expected.add(k);
  const unknown = [...expected].filter((k) => !KNOWN_KINDS.has(k));
  if (unknown.length === 0) return [];
  const { functions, files } = scenarioText(scenario, file);
  return unknown.filter((k) => !namedByScenario(k, functions, files)).map((k) => unknownKindHint(k));
}

/** The kinds of `expected` the scenario's code names itself: what a shard records so merge can validate alike. */
export function selfReportedKinds(scenario: ExpectingScenario, file: string | null = null): string[] {
  const expected = new Set<string>();
  for (const v of KERNEL_VERSIONS) for (const k of scenario.expectFor(v.name)) expected.add(k);
  const unknown = [...expected].filter((k) => !KNOWN_KINDS.has(k));
  if (unknown.length === 0) return [];
  const { functions, files } = scenarioText(scenario, file);
  return unknown.filter((k) => namedByScenario(k, functions, files)).sort();
}

/** The one line `check` and `merge` print for a scenario whose `expect` names kinds nothing reports. */
export function unreportableLine(command: string, scenarioName: string, problems: readonly string[]): string {
  return `hmmsim ${command}: scenario ${scenarioName}: its expect names ${problems.join('; and ')}: fix the kind in expect (a kind the scenario reports itself must appear in its file)`;
}
