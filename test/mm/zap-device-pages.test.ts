/**
 * zap_nonpresent_ptes drops the reference of a device-private (and a device-exclusive) entry at
 * once, under the PTL (review item 7): the pagemap's page_free runs inside the zap, before
 * invalidate_range_end, not at the TLB flush after it as for present pages.
 */
import { describe, expect, it } from 'vitest';
import { MmuNotifier, mmu_notifier_register } from '../../src/notifier/classic.js';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { write32 } from '../../src/mm/cpu-access.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { isDevicePrivateEntry, ptePfn } from '../../src/mm/pte.ts';
import { HmmMirror } from '../../src/devices/hmm-mirror.ts';
import { consistency, kinds, run1 } from './helpers.ts';

const P = 4096;

describe('zap of device-private entries', () => {
  it('frees the device page (page_free) before invalidate_range_end; a present page is still freed after it', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      const dev = new HmmMirror(w, mm, 'correct', 'dmirror', 4);
      const a = yield* sys_mmap(mm, 0, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* dev.insert(a, 2 * P);
      yield* write32(mm, a, 1);
      yield* dev.migrateToDevice(a, a + P);
      yield* write32(mm, a + P, 2);
      const dpage = ptePfn(mm.pt.get(a));
      const sysPage = ptePfn(mm.pt.get(a + P));
      const onDevice = isDevicePrivateEntry(mm.pt.get(a));
      const atEnd: { deviceFreed: boolean; systemFreed: boolean }[] = [];
      const sub = new MmuNotifier(
        {
          *invalidate_range_end() {
            atEnd.push({ deviceFreed: dev.free.includes(dpage), systemFreed: mm.sys.frames.isFree(sysPage) });
          },
        },
        'watcher',
      );
      yield* mmu_notifier_register(sub, mm);
      yield* sys_munmap(mm, a, 2 * P);
      return { onDevice, atEnd, deviceFreed: dev.free.includes(dpage), cons: consistency(w) };
    });
    expect(value.onDevice).toBe(true);
    expect(value.atEnd).toEqual([{ deviceFreed: true, systemFreed: false }]);
    expect(value.deviceFreed).toBe(true);
    expect(value.cons).toEqual([]);
    expect(kinds(w)).toEqual([]);
  });
});
