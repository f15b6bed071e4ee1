/** The run's memory: misuse records become findings at once; frees reach the coherence oracle. */
import { describe, expect, it } from 'vitest';
import { mm_create, memory_system } from '../../src/mm/mm-struct.ts';
import { memoryOf } from '../../src/mm/memory.ts';
import { device_map, device_shadow_create } from '../../src/notifier/coherence.js';
import { World } from '../../src/sim/world.js';
import { PTE_PROTNONE, PTE_WRITE, makeReadableDeviceExclusiveEntry, makeWritableDevicePrivateEntry, makeWritableMigrationEntry, pfnPte, swapPte } from '../../src/mm/pte.ts';
import { kinds, run1 } from './helpers.ts';

describe('memory system', () => {
  it('is made once per run and applies later options', () => {
    const w = new World();
    w.reset(1);
    const a = memory_system(w, { memoryLimitPages: 4 });
    const mm = mm_create(w, { swapPages: 2 });
    expect(mm.sys).toBe(a);
    expect(memoryOf(w)).toBe(a);
    expect([a.frames.limit, a.swap.limit]).toEqual([4, 2]);
    w.reset(2);
    expect(memoryOf(w)).toBeUndefined();
  });

  it('reports a put on a free page as bad-page-state and touching a freed page as page-use-after-free, in the step that did it', () => {
    const { w } = run1(function* (w) {
      yield w.point('go');
      const sys = memory_system(w);
      const pfn = sys.frames.alloc();
      sys.putPage(pfn);
      sys.putPage(pfn);
      sys.frames.read32(pfn, 0);
      sys.frames.write32(0, 0, 1);
      return 0;
    });
    expect(kinds(w)).toEqual(['bad-page-state', 'bug', 'page-use-after-free']);
    expect(w.findings.every((f) => f.task === 'main')).toBe(true);
  });

  it('tells the coherence oracle about every page it frees', () => {
    const { w } = run1(function* (w) {
      yield w.point('go');
      const mm = mm_create(w);
      const pfn = mm.sys.frames.alloc();
      device_map(device_shadow_create(mm, 'dev', 'pinned'), 0x1000, pfn, false);
      device_map(device_shadow_create(mm, 'dev2'), 0x2000, pfn, false);
      mm.sys.putPage(pfn);
      return 0;
    });
    // dev2 also maps something the CPU does not map (reported at device_map); dev is pinned.
    expect(w.findings.map((f) => f.kind).sort()).toEqual(['device-maps-freed-page', 'stale-device-mapping']);
    expect(w.findings.find((f) => f.kind === 'device-maps-freed-page')!.message).toContain('dev2');
  });
});

describe('the CPU view the coherence oracle reads', () => {
  it('shows present accessible entries, device-private and device-exclusive entries, and nothing else', () => {
    const w = new World();
    w.reset(1);
    const mm = mm_create(w);
    mm.vmas.insert({ start: 0x400000, end: 0x406000, flags: 3 });
    mm.pt.set(0x400000, pfnPte(5, PTE_WRITE));
    mm.pt.set(0x401000, pfnPte(6, PTE_PROTNONE));
    mm.pt.set(0x402000, makeWritableDevicePrivateEntry(7));
    mm.pt.set(0x403000, makeReadableDeviceExclusiveEntry(8));
    mm.pt.set(0x404000, swapPte(3));
    mm.pt.set(0x405000, makeWritableMigrationEntry(9));
    expect([0x400000, 0x401000, 0x402000, 0x403000, 0x404000, 0x405000, 0x406000].map((a) => mm.lookup(a + 8))).toEqual([
      { pfn: 5, write: true },
      null,
      { pfn: 7, write: true },
      { pfn: 8, write: false },
      null,
      null,
      null,
    ]);
  });
});
