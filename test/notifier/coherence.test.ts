/**
 * The device-coherence oracle (spec §8 INV-H1..H3): a device mapping that disagrees with the CPU
 * while no invalidation covering its address is open is stale; a freed page still mapped by a
 * mirroring device is reported; a `pinned` device is exempt.
 */
import { describe, expect, it } from 'vitest';
import { mmu_notifier_register, MmuNotifier } from '../../src/notifier/classic.js';
import {
  cpu_mapping_changed,
  DEVICE_MAPS_FREED_PAGE,
  device_map,
  device_shadow_create,
  device_unmap,
  device_unmap_range,
  invalidationOpenAt,
  page_freed,
  STALE_DEVICE_MAPPING,
  type CoherenceContract,
  type DeviceShadow,
} from '../../src/notifier/coherence.js';
import { cpu_stub_attach, cpu_stub_migrate, cpu_stub_munmap, type CpuStub } from '../../src/notifier/cpu-stub.js';
import { mmu_notifier_invalidate_range_end, mmu_notifier_invalidate_range_start } from '../../src/notifier/invalidate.js';
import { mm_alloc, type MmStruct } from '../../src/notifier/mm.js';
import { kinds, ofKind, places, rangeOf, run, summary } from './helpers.js';

const P = 0x1000;
const A = 0x300000;

interface St {
  mm: MmStruct;
  cpu: CpuStub;
  dev: DeviceShadow;
  sub: MmuNotifier;
}

/** An mm whose CPU maps [A, A+2P) writable (pfns 100, 101) and [A+2P, A+3P) read-only (pfn 102). */
function setup(contract: CoherenceContract = 'mirror', zapInStart = true) {
  return (w: import('../../src/sim/world.js').World): St => {
    const mm = mm_alloc(w);
    const cpu = cpu_stub_attach(mm);
    cpu.populate(A, A + 2 * P, true);
    cpu.populate(A + 2 * P, A + 3 * P, false);
    const dev = device_shadow_create(mm, 'dev', contract);
    const sub = new MmuNotifier(
      {
        *invalidate_range_start(_s, r) {
          if (zapInStart) device_unmap_range(dev, r.start, r.end);
          return 0;
        },
      },
      'dev-notifier',
    );
    return { mm, cpu, dev, sub };
  };
}

function* register(s: St) {
  yield* mmu_notifier_register(s.sub, s.mm);
}

describe('device_map', () => {
  it.each([
    ['a pfn at an address the CPU does not map', A + 8 * P, 100, false, /maps nothing there/],
    ['another pfn than the CPU maps', A, 999, false, /the CPU maps pfn 100/],
    ['write access to a page the CPU maps read-only', A + 2 * P, 102, true, /the device may write but the CPU mapping is read-only/],
  ])('outside any invalidation, %s: stale-device-mapping', (_what, addr, pfn, write, msg) => {
    const r = run<St>({
      setup: setup(),
      tasks: {
        *t(s, w) {
          yield w.point('go');
          device_map(s.dev, addr, pfn, write);
          device_unmap(s.dev, addr);
        },
      },
    });
    expect(kinds(r)).toEqual([STALE_DEVICE_MAPPING]);
    expect(places(r, STALE_DEVICE_MAPPING)).toEqual(['dev:stale']);
    expect(ofKind(r, STALE_DEVICE_MAPPING)[0]!.message).toContain('(device programmed)');
    expect(ofKind(r, STALE_DEVICE_MAPPING)[0]!.message).toMatch(msg);
  });

  it('a mapping that agrees with the CPU (same pfn; read-only or writable as the CPU allows) is clean', () => {
    const r = run<St>({
      setup: setup(),
      tasks: {
        *t(s, w) {
          yield w.point('go');
          device_map(s.dev, A, 100, true);
          device_map(s.dev, A + P, 101, false);
          device_map(s.dev, A + 2 * P, 102, false);
        },
      },
    });
    expect(summary(r)).toEqual([]);
  });

  it('inside an open invalidation covering the address: not reported; unmapped before the end, clean', () => {
    const r = run<St>({
      setup: setup(),
      init: register,
      tasks: {
        *t(s) {
          const rg = rangeOf(s.mm, A, A + P);
          yield* mmu_notifier_invalidate_range_start(rg);
          device_map(s.dev, A, 999, true);
          device_unmap(s.dev, A);
          yield* mmu_notifier_invalidate_range_end(rg);
        },
      },
    });
    expect(summary(r)).toEqual([]);
  });

  it('inside an open invalidation, left mapped after it ends: stale at quiescence', () => {
    const r = run<St>({
      setup: setup(),
      init: register,
      tasks: {
        *t(s) {
          const rg = rangeOf(s.mm, A, A + P);
          yield* mmu_notifier_invalidate_range_start(rg);
          device_map(s.dev, A, 999, false);
          yield* mmu_notifier_invalidate_range_end(rg);
        },
      },
    });
    expect(kinds(r)).toEqual([STALE_DEVICE_MAPPING]);
    expect(places(r, STALE_DEVICE_MAPPING)).toEqual(['dev:stale']);
    expect(ofKind(r, STALE_DEVICE_MAPPING)[0]!.message).toContain('(at quiescence)');
  });

  it('an open invalidation covers [start, end): the address at its end is not covered', () => {
    let open: boolean[] = [];
    const r = run<St>({
      setup: setup(),
      init: register,
      tasks: {
        *t(s) {
          const rg = rangeOf(s.mm, A, A + P);
          yield* mmu_notifier_invalidate_range_start(rg);
          open = [invalidationOpenAt(s.mm, A - 1), invalidationOpenAt(s.mm, A), invalidationOpenAt(s.mm, A + P - 1), invalidationOpenAt(s.mm, A + P)];
          device_map(s.dev, A + P, 999, false);
          device_unmap(s.dev, A + P);
          yield* mmu_notifier_invalidate_range_end(rg);
        },
      },
    });
    expect(open).toEqual([false, true, true, false]);
    expect(places(r, STALE_DEVICE_MAPPING)).toEqual(['dev:stale']);
    expect(ofKind(r, STALE_DEVICE_MAPPING)[0]!.message).toContain('(device programmed)');
  });

  it('an mm with no CPU view is never compared', () => {
    const r = run<{ mm: MmStruct; dev: DeviceShadow }>({
      setup: (w) => {
        const mm = mm_alloc(w);
        return { mm, dev: device_shadow_create(mm, 'dev') };
      },
      tasks: {
        *t(s, w) {
          yield w.point('go');
          device_map(s.dev, A, 999, true);
          page_freed(w, 5);
        },
      },
    });
    expect(summary(r)).toEqual([]);
  });
});

describe('page_freed', () => {
  it('a page freed while a mirroring device maps it: device-maps-freed-page; a pinned device holding its own reference: none', () => {
    const mirror = run<St>({
      setup: setup('mirror'),
      tasks: {
        *t(s, w) {
          yield w.point('go');
          device_map(s.dev, A, 100, true);
          page_freed(w, 100);
          device_unmap(s.dev, A);
        },
      },
    });
    expect(kinds(mirror)).toEqual([DEVICE_MAPS_FREED_PAGE]);
    expect(ofKind(mirror, DEVICE_MAPS_FREED_PAGE)[0]!.message).toMatch(/pfn 100 was freed while dev still maps it at mm:0x300000/);
    const pinned = run<St>({
      setup: setup('pinned'),
      tasks: {
        *t(s, w) {
          yield w.point('go');
          device_map(s.dev, A, 100, true);
          page_freed(w, 100);
        },
      },
    });
    expect(summary(pinned)).toEqual([]);
  });

  it('freeing a page the device does not map is clean', () => {
    const r = run<St>({
      setup: setup(),
      tasks: {
        *t(s, w) {
          yield w.point('go');
          device_map(s.dev, A, 100, true);
          page_freed(w, 101);
        },
      },
    });
    expect(summary(r)).toEqual([]);
  });
});

describe('cpu_mapping_changed', () => {
  it('the CPU changes a mapping outside any invalidation while the device still maps it: stale (CPU mapping changed)', () => {
    const r = run<St>({
      setup: setup(),
      tasks: {
        *t(s, w) {
          yield w.point('go');
          device_map(s.dev, A, 100, true);
          s.cpu.ptes.set(A, { pfn: 500, write: true });
          cpu_mapping_changed(s.mm, A);
          device_unmap(s.dev, A);
        },
      },
    });
    expect(kinds(r)).toEqual([STALE_DEVICE_MAPPING]);
    expect(places(r, STALE_DEVICE_MAPPING)).toEqual(['dev:stale']);
    expect(ofKind(r, STALE_DEVICE_MAPPING)[0]!.message).toContain('(CPU mapping changed)');
    expect(ofKind(r, STALE_DEVICE_MAPPING)[0]!.message).toMatch(/the CPU maps pfn 500/);
  });

  it('a device of another mm is not concerned', () => {
    const r = run<St & { other: DeviceShadow }>({
      setup: (w) => {
        const s = setup()(w);
        const mm2 = mm_alloc(w, 'mm2');
        return { ...s, other: device_shadow_create(mm2, 'other') };
      },
      tasks: {
        *t(s, w) {
          yield w.point('go');
          s.other.entries.set(A, { pfn: 100, write: true });
          s.cpu.ptes.set(A, { pfn: 500, write: true });
          cpu_mapping_changed(s.mm, A);
        },
      },
    });
    expect(summary(r)).toEqual([]);
  });

  it('munmap with a notifier that zaps the device in start: clean; one that does not: stale and freed page', () => {
    for (const zap of [true, false]) {
      const r = run<St>({
        setup: setup('mirror', zap),
        *init(s) {
          yield* register(s);
          device_map(s.dev, A, 100, true);
        },
        tasks: {
          *t(s) {
            yield* cpu_stub_munmap(s.cpu, A, A + P);
          },
        },
      });
      if (zap) {
        expect(summary(r)).toEqual([]);
      } else {
        expect(kinds(r)).toEqual([DEVICE_MAPS_FREED_PAGE, STALE_DEVICE_MAPPING]);
        expect(places(r, STALE_DEVICE_MAPPING)).toEqual(['dev:stale']);
    expect(ofKind(r, STALE_DEVICE_MAPPING)[0]!.message).toContain('(at quiescence)');
      }
    }
  });

  it('migration with a zapping notifier: clean; the device can then map the new page', () => {
    const r = run<St>({
      setup: setup(),
      *init(s) {
        yield* register(s);
        device_map(s.dev, A, 100, true);
      },
      tasks: {
        *t(s) {
          yield* cpu_stub_migrate(s.cpu, A);
          device_map(s.dev, A, s.cpu.lookup(A)!.pfn, true);
        },
      },
    });
    expect(summary(r)).toEqual([]);
  });

  it('a pinned device is never reported, whatever the CPU does', () => {
    const r = run<St>({
      setup: setup('pinned', false),
      *init(s) {
        yield* register(s);
        device_map(s.dev, A, 100, true);
        device_map(s.dev, A + 8 * P, 7, true);
      },
      tasks: {
        *t(s) {
          yield* cpu_stub_munmap(s.cpu, A, A + P);
        },
      },
    });
    expect(summary(r)).toEqual([]);
  });
});
