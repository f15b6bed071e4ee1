/**
 * End-of-run oracles of the notifier layer (spec §8, scenarios' INV-QUIESCE): when every task is
 * done, no invalidation may still be in flight, the interval sequence must be even with nothing
 * deferred, and every device mapping must agree with the CPU.
 */
import type { World } from '../sim/world.js';
import { check_coherence } from './coherence.js';
import { QUIESCENCE, SEQUENCE_PROTOCOL, UNPAIRED_INVALIDATE } from './kinds.js';
import type { MmStruct } from './mm.js';

const KEY = 'notifier.mms';

/** Remembers an mm with notifier state, and installs the end-of-run checks once per run. */
export function trackMm(mm: MmStruct): void {
  const world = mm.world;
  let mms = world.locals.get(KEY) as MmStruct[] | undefined;
  if (mms === undefined) {
    mms = [];
    world.locals.set(KEY, mms);
    const list = mms;
    world.endOfRunChecks.push(() => checkQuiescence(world, list));
  }
  if (!mms.includes(mm)) mms.push(mm);
}

function checkQuiescence(world: World, mms: readonly MmStruct[]): void {
  for (const mm of mms) {
    const subs = mm.notifier_subscriptions;
    if (subs === null) continue;
    for (const inst of subs.open) {
      world.report(UNPAIRED_INVALIDATE, `invalidate_range_start(${inst.range}) on ${mm.name} was never ended by its caller`, `${mm.name}:start-without-end`);
    }
    if (subs.activeInvalidateRanges !== 0 || subs.fullyExcluded || subs.deferred.length > 0) {
      world.report(
        QUIESCENCE,
        `at the end of the run ${mm.name} has ${subs.activeInvalidateRanges} active invalidation(s), sequence ${subs.invalidateSeq} (${subs.fullyExcluded ? 'odd' : 'even'}), ${subs.deferred.length} deferred interval change(s): readers and removers would wait for ever`,
        `${mm.name}:notifier-state`,
      );
    }
    if (subs.activeInvalidateRanges === 0 && subs.fullyExcluded) {
      world.report(SEQUENCE_PROTOCOL, `${mm.name}'s sequence is odd with no invalidation active`, `${mm.name}:odd-idle`);
    }
  }
  check_coherence(world);
}

/** Registers a driver's own end-of-run expectation (e.g. "my in-flight counter is back to 0"). */
export function expectQuiescent(world: World, what: string, isQuiet: () => string | null): void {
  world.endOfRunChecks.push(() => {
    const why = isQuiet();
    if (why !== null) world.report(QUIESCENCE, `${what}: ${why}`, what);
  });
}
