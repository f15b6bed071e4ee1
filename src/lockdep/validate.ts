/**
 * `validate_chain` (spec §4–§8): the same-class check, then one dependency per
 * relevant previous lock, each proven not to close a strong cycle. Runs only on
 * a chain-cache miss, so it may allocate (snapshots, reports).
 */
import type { LockdepCore } from './core.ts';
import { type DepPath, depKind } from './graph.ts';
import { checkIrqUsage } from './irq-usage.ts';
import type { LockdepMap } from './map.ts';
import { buildLinks, describeCycle, heldDesc, heldList, mapDesc } from './reports.ts';
import { LD_WAIT_CONFIG, LD_WAIT_MAX, LD_WAIT_SPIN } from './map.ts';
import { HELD_CHECK, HELD_TRYLOCK, IRQ_CTX_HARDIRQ, IRQ_CTX_PROCESS, type TaskState } from './task-state.ts';
import type { WhereArg, WhereSnapshot } from './where.ts';

/**
 * Validates acquiring `map` (class `cls`, mode `read`) on top of `t`'s held
 * stack. Returns true if the chain is fine (the caller caches it), false if a
 * report was made.
 */
export function validateChain(
  ld: LockdepCore,
  t: TaskState,
  map: LockdepMap,
  cls: number,
  read: number,
  nest: LockdepMap | null,
  where: WhereArg,
  step: number,
  ictx: number,
): boolean {
  const depth = t.depth;
  if (map.waitInner !== 0 && ld.checkWaitContext && !checkWaitContext(ld, t, map, cls, read, ictx, where, step)) return false;
  // Same-class check, bottom-up (spec §5): a nest lock exempts only if it is
  // met before the first conflicting entry.
  let nestSeen = false;
  for (let i = 0; i < depth; i++) {
    if (nest !== null && t.maps[i] === nest) nestSeen = true;
    if (t.cls[i] !== cls) continue;
    if (read === 2 && t.read[i] !== 0) continue;
    // Exempt: the nest lock serialises this nesting; add no dependencies.
    if (nestSeen) return true;
    reportRecursive(ld, t, i, map, cls, read, where, step, null);
    return false;
  }
  // Walk down to the first non-trylock validated entry (spec §4 step 2);
  // deeper locks are already connected to it.
  let snap: WhereSnapshot | null = null;
  for (let i = depth - 1; i >= 0; i--) {
    // Dependencies never cross an irq-context boundary: an interrupt's locks start a new chain.
    if (t.ictx[i] !== ictx) break;
    const f = t.flags[i]!;
    if ((f & HELD_CHECK) === 0) continue;
    const pc = t.cls[i]!;
    const pr = t.read[i]!;
    const path = ld.graph.strongPath(cls, read, pc, pr);
    if (path !== null) {
      if (pc === cls || path.length === 0) reportRecursive(ld, t, i, map, cls, read, where, step, path);
      else reportCircular(ld, t, i, map, cls, read, where, step, path);
      return false;
    }
    if (!checkIrqUsage(ld, t, i, map, cls, read, where, step)) return false;
    const kind = depKind(pr, read);
    const e = ld.graph.find(pc, cls);
    if (e !== undefined) e.kinds |= kind;
    else {
      // One snapshot per acquisition, shared by all the edges it adds.
      snap ??= ld.snap(t, where);
      ld.graph.add(pc, cls, kind, snap);
    }
    if ((f & HELD_TRYLOCK) === 0) break;
  }
  return true;
}

/**
 * `check_wait_context` (spec §11): the lock's outer wait type must not exceed the strictest inner
 * type of the context (hard irq: CONFIG, as for a threadable handler; softirq: CONFIG) and of
 * the locks held in it. A mutex under a spinlock, a spinlock_t under a raw_spinlock_t.
 */
function checkWaitContext(ld: LockdepCore, t: TaskState, map: LockdepMap, cls: number, read: number, ictx: number, where: WhereArg, step: number): boolean {
  const next = map.waitOuter !== 0 ? map.waitOuter : map.waitInner;
  let inner = ictx === IRQ_CTX_PROCESS ? LD_WAIT_MAX : ictx === IRQ_CTX_HARDIRQ && !t.hardirqThreaded ? LD_WAIT_SPIN : LD_WAIT_CONFIG;
  let innerAt = -1;
  let first = t.depth;
  while (first > 0 && t.ictx[first - 1] === ictx) first--;
  for (let i = first; i < t.depth; i++) {
    const w = t.maps[i]!.waitInner;
    if (w !== 0 && w < inner) {
      inner = w;
      innerAt = i;
    }
  }
  if (next <= inner) return true;
  const snap = ld.snap(t, where);
  const trying = mapDesc(ld.classes, map, cls, read, step);
  ld.emit({
    kind: 'lockdep-wait-context',
    title: '[ BUG: Invalid wait context ]',
    place: `${trying.className} in ${innerAt >= 0 ? ld.classes.list[t.cls[innerAt]!]!.name : IRQ_CTX_NAMES[ictx]!}`,
    where: snap,
    heldLocks: heldList(ld.classes, t),
    validationOff: ld.offMode(),
    trying,
    tryingWait: waitName(next),
    contextWait: waitName(inner),
    context: innerAt >= 0 ? heldDesc(ld.classes, t, innerAt).className : IRQ_CTX_NAMES[ictx]!,
  });
  return false;
}

const IRQ_CTX_NAMES = ['process context', 'softirq context', 'hardirq context'];
const WAIT_NAMES = ['inv', 'free', 'spin', 'config', 'sleep', 'max'];

function waitName(w: number): string {
  return `{${w}:${WAIT_NAMES[w] ?? '?'}}`;
}

function reportRecursive(
  ld: LockdepCore,
  t: TaskState,
  i: number,
  map: LockdepMap,
  cls: number,
  read: number,
  where: WhereArg,
  step: number,
  path: DepPath | null,
): void {
  const snap = ld.snap(t, where);
  const trying = mapDesc(ld.classes, map, cls, read, step);
  const holding = heldDesc(ld.classes, t, i);
  ld.emit({
    kind: 'lockdep-recursive',
    title: 'WARNING: possible recursive locking detected',
    place: trying.className,
    where: snap,
    heldLocks: heldList(ld.classes, t),
    validationOff: ld.offMode(),
    trying,
    holding,
    links: path !== null && path.length > 0 ? buildLinks(ld.classes, path, t.cls[i]!, t.read[i]!, cls, read, snap) : [],
  });
}

function reportCircular(
  ld: LockdepCore,
  t: TaskState,
  i: number,
  map: LockdepMap,
  cls: number,
  read: number,
  where: WhereArg,
  step: number,
  path: DepPath,
): void {
  const snap = ld.snap(t, where);
  const trying = mapDesc(ld.classes, map, cls, read, step);
  const holding = heldDesc(ld.classes, t, i);
  const d = describeCycle(ld.classes, path, trying, holding, cls, t.cls[i]!);
  const runs = d.runs.includes(snap.runLabel) ? d.runs : [...d.runs, snap.runLabel];
  ld.emit({
    kind: 'lockdep-circular',
    title: 'WARNING: possible circular locking dependency detected',
    where: snap,
    heldLocks: heldList(ld.classes, t),
    validationOff: ld.offMode(),
    trying,
    holding,
    links: buildLinks(ld.classes, path, t.cls[i]!, t.read[i]!, cls, read, snap),
    ...d,
    runs,
  });
}
