/**
 * Per-mm notifier state (`struct mmu_notifier_subscriptions`), created by the first registration
 * of any kind and kept until the mm is destroyed.
 *
 * The interval machinery has three states, derived from two fields:
 *
 *     state               active ranges   sequence   interval tree may change?
 *     Idle                0               even       yes
 *     PartiallyExcluded   > 0             even       yes (no interval callback is running)
 *     FullyExcluded       > 0             odd        no: inserts/removes are deferred
 *
 * A start that overlaps an interval makes the sequence odd; the last end that finds it odd makes
 * it even again, applies the deferred inserts and removes, and wakes the readers.
 */
import { Spinlock } from '../locking/spinlock.js';
import { nameLabel } from '../sim/labels.js';
import type { SrcuStruct } from '../locking/srcu.js';
import type { WaitQueue } from '../sim/waitqueue.js';
import type { World } from '../sim/world.js';
import { IntervalTree } from './interval-tree.js';
import type { MmuIntervalNotifier } from './interval.js';
import type { MmStruct } from './mm.js';
import type { MmuNotifierRange } from './range.js';
import type { MmuNotifier } from './classic.js';

/** The sequence a fresh mm starts with (even: idle). */
export const INITIAL_INVALIDATE_SEQ = 2;

/** One invalidation in flight, from its start until its end (or failure): what the oracles track. */
export interface InvalidationInstance {
  readonly range: MmuNotifierRange;
  /** Classic subscriptions that got start, with what they returned. */
  readonly started: Map<MmuNotifier, number>;
  /** Classic subscriptions that got end. */
  readonly ended: Set<MmuNotifier>;
  /** The interval step counted this invalidation in `activeInvalidateRanges`... */
  itreeEntered: boolean;
  /** ...and has taken it out again. */
  itreeExited: boolean;
}

/** The per-mm notifier state. */
export class MmuNotifierSubscriptions {
  /** Classic subscriptions, newest first (callbacks run newest-registered first). */
  readonly list: MmuNotifier[] = [];
  hasItree = false;
  /** Protects everything below; never held across a driver callback. */
  readonly lock: Spinlock;
  invalidateSeq = INITIAL_INVALIDATE_SEQ;
  activeInvalidateRanges = 0;
  readonly itree: IntervalTree;
  /** Interval subscriptions by the payload index the tree stores. */
  readonly intervals: (MmuIntervalNotifier | null)[] = [];
  /** Woken (all) whenever the sequence goes from odd to even. */
  readonly wq: WaitQueue;
  /** Inserts and removes that arrived while the sequence was odd, in order. */
  readonly deferred: MmuIntervalNotifier[] = [];
  /** Invalidations between start and end, for the oracles. */
  readonly open = new Set<InvalidationInstance>();

  constructor(
    readonly mm: MmStruct,
    readonly srcu: SrcuStruct,
    world: World,
  ) {
    this.lock = new Spinlock(world, nameLabel('', mm.name, '->notifier_subscriptions->lock'), '&subscriptions->lock');
    this.itree = borrowTree(world);
    this.wq = world.waitQueue(nameLabel('', mm.name, ' notifier wq'), this);
  }

  /** The object scheduling points name for this state. */
  get name(): string {
    return nameLabel('', this.mm.name, '->notifier_subscriptions');
  }

  /** FullyExcluded: an invalidation that hit an interval is in progress. */
  get fullyExcluded(): boolean {
    return (this.invalidateSeq & 1) !== 0;
  }
}

const POOL_KEY = 'notifier.treePool';

interface TreePool {
  readonly free: IntervalTree[];
  readonly lent: IntervalTree[];
}

/**
 * An empty interval tree for this run. Trees are typed-array heavy and the explorer builds a
 * fresh world thousands of times a second, so the trees of a run go back to a per-world pool
 * when the world is reset instead of to the garbage collector.
 */
function borrowTree(world: World): IntervalTree {
  let pool = world.persistent.get(POOL_KEY) as TreePool | undefined;
  if (pool === undefined) {
    const p: TreePool = { free: [], lent: [] };
    pool = p;
    world.persistent.set(POOL_KEY, p);
    world.resetHooks.push(() => {
      for (const t of p.lent) {
        t.clear();
        p.free.push(t);
      }
      p.lent.length = 0;
    });
  }
  const tree = pool.free.pop() ?? new IntervalTree();
  pool.lent.push(tree);
  return tree;
}
