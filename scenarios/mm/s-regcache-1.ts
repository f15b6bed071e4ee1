/**
 * S-REGCACHE-1 (seed 004): an RDMA-style registration cache, pinned versus unpinned.
 *
 * The driver caches "registrations" (address -> page) and DMAs through them. Its notifier has a
 * start op only, which drops the cached entry so no new DMA uses it; it does not wait for DMA
 * already in flight. The CPU side munmaps the page and maps something new at the same address:
 *
 *     E (DMA engine)                        T_cpu
 *     look up the registration: page P
 *                                           munmap: start (drops the entry) ... end; P freed
 *     DMA read/write of P  <- P is freed (or already someone else's page)
 *                                           mmap MAP_FIXED at the same address; write
 *
 * unpinned ("mirror" contract): the cache holds no reference on P, so the core frees P after the
 *   invalidation ends while the DMA still uses it: device-maps-freed-page (and, depending on the
 *   timing, the DMA touching a free frame).
 * pinned: the registration holds a pin on P for as long as it exists, so P outlives the
 *   munmap; the device may go on using the old page after the remap, which is loosely coherent
 *   by design, not a bug: reported as info-loosely-coherent.
 * waits (the other fix): start waits for in-flight DMA before returning: clean.
 */
import {
  defineScenario,
  mmu_notifier_register,
  MmuNotifier,
  type MmuNotifierOps,
  Mutex,
  mutex_lock,
  mutex_unlock,
  wait_event,
  wake_up_all,
  type WaitQueue,
  type World,
} from '../../src/index.js';
import { device_map, device_shadow_create, device_unmap, type DeviceShadow } from '../../src/notifier/coherence.js';
import {
  dma_read32,
  dma_write32,
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  mm_check,
  mm_create,
  PAGE_SIZE,
  pin_user_page,
  PROT_READ,
  PROT_WRITE,
  sys_mmap,
  sys_munmap,
  unpin_user_page,
  write32,
  type Mm,
} from '../../src/mm/index.ts';
import { MM_SCENARIO_RUNS } from '../budget.js';

type Variant = 'unpinned' | 'pinned' | 'waits';

/** The notifier's ops, made once (not per run). */
const regcacheOps: MmuNotifierOps = {
  *invalidate_range_start(sub, range) {
    const r = sub as RegCache;
    yield* mutex_lock(r.lock);
    const e = r.entry;
    if (e !== null && e.addr >= range.start && e.addr < range.end) {
      r.entry = null;
      if (r.variant === 'waits') {
        yield* mutex_unlock(r.lock);
        yield* wait_event(r.wq, () => r.inflight === 0);
        yield* mutex_lock(r.lock);
      }
      if (r.inflight === 0) r.release(e.addr);
    }
    yield* mutex_unlock(r.lock);
    return 0;
  },
};

/** The registration cache: one entry, the DMA in flight, and (pinned) the pin it holds. */
class RegCache extends MmuNotifier {
  readonly lock: Mutex;
  readonly wq: WaitQueue;
  entry: { addr: number; pfn: number } | null = null;
  inflight = 0;
  /** The pfn still pinned (pinned variant), released once the entry is gone and DMA is done. */
  pinnedPfn = -1;
  shadow: DeviceShadow | null = null;

  constructor(
    w: World,
    readonly variant: Variant,
  ) {
    super(
      regcacheOps,
      'regcache',
    );
    this.lock = new Mutex(w, 'regcache->lock');
    this.wq = w.waitQueue('regcache dma done', this);
  }

  /** The device stops using the page: shadow entry gone, pin dropped. */
  release(addr: number): void {
    device_unmap(this.shadow!, addr);
    if (this.pinnedPfn >= 0) {
      unpin_user_page(this.lock.k.world, this.pinnedPfn);
      this.pinnedPfn = -1;
    }
  }
}

interface State {
  mm: Mm;
  r: RegCache;
  addr: number;
  remapped: boolean;
  /** Set when the DMA touched the old page after the CPU had mapped a new one there. */
  usedAfterRemap: boolean;
}

function regcache(name: string, description: string, variant: Variant) {
  return defineScenario<State>({
    name,
    description,
    setup: (w: World) => ({ mm: mm_create(w, { name: 'proc' }), r: new RegCache(w, variant), addr: 0, remapped: false, usedAfterRemap: false }),
    *init(s) {
      s.addr = yield* sys_mmap(s.mm, 0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* write32(s.mm, s.addr, 0xaaaa);
      yield* mmu_notifier_register(s.r, s.mm);
      s.r.shadow = device_shadow_create(s.mm, 'rdma', variant === 'pinned' ? 'pinned' : 'mirror');
      // Registration: get_user_pages; the unpinned cache lets go of the reference at once.
      const pfn = yield* pin_user_page(s.mm, s.addr, true);
      if (variant === 'pinned') s.r.pinnedPfn = pfn;
      else unpin_user_page(s.mm.world, pfn);
      s.r.entry = { addr: s.addr, pfn };
      device_map(s.r.shadow, s.addr, pfn, true);
    },
    tasks: {
      *dma(s, w) {
        const r = s.r;
        yield* mutex_lock(r.lock);
        const e = r.entry;
        if (e !== null) r.inflight++;
        yield* mutex_unlock(r.lock);
        if (e === null) return;
        yield* dma_read32(w, e.pfn, 0);
        if (s.remapped) s.usedAfterRemap = true;
        yield* dma_write32(w, e.pfn, 4, 0xd0d0);
        yield* mutex_lock(r.lock);
        r.inflight--;
        if (r.entry === null) r.release(e.addr);
        yield* mutex_unlock(r.lock);
        yield* wake_up_all(r.wq);
      },
      *cpu(s) {
        yield* sys_munmap(s.mm, s.addr, PAGE_SIZE);
        yield* sys_mmap(s.mm, s.addr, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED);
        s.remapped = true;
        yield* write32(s.mm, s.addr, 0xbbbb);
      },
    },
    check(s, ctx) {
      if (s.usedAfterRemap && variant === 'pinned') {
        ctx.fail('the device used the old page after the CPU remapped the address: loosely coherent (pinned registration)', 'info-loosely-coherent', 'regcache');
      }
      mm_check(ctx.world);
    },
    expect: variant === 'unpinned' ? ['device-maps-freed-page'] : variant === 'pinned' ? ['info-loosely-coherent'] : [],
    allow: variant === 'unpinned' ? ['page-use-after-free'] : [],
    runs: MM_SCENARIO_RUNS,
  });
}

export const sRegcache1Unpinned = regcache(
  's-regcache-1-unpinned',
  'S-REGCACHE-1 unpinned: a start-only registration cache lets in-flight DMA outlive the munmap: the page is freed under it',
  'unpinned',
);
export const sRegcache1Pinned = regcache(
  's-regcache-1-pinned',
  'S-REGCACHE-1 pinned: the registration pins the page: no use after free, only loosely coherent DMA after the remap',
  'pinned',
);
export const sRegcache1Waits = regcache('s-regcache-1-waits', 'S-REGCACHE-1 fixed: start waits for DMA in flight before returning: clean', 'waits');

export default [sRegcache1Unpinned, sRegcache1Pinned, sRegcache1Waits];
