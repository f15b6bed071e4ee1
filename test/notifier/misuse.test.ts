/**
 * Driver API misuse the kernel catches (or, for the double insert, would corrupt itself on):
 * each a finding by kind; the correct use next to it is clean.
 */
import { describe, expect, it } from 'vitest';
import { kmalloc, kfree, GFP_KERNEL, KMALLOC_BAD_SIZE, KMALLOC_MAX_SIZE } from '../../src/locking/alloc.js';
import { DOUBLE_UNREGISTER, MmuNotifier, mmu_notifier_register, mmu_notifier_unregister } from '../../src/notifier/classic.js';
import { DOUBLE_INSERT, MmuIntervalNotifier, mmu_interval_notifier_insert, mmu_interval_notifier_remove } from '../../src/notifier/interval.js';
import { mm_alloc } from '../../src/notifier/mm.js';
import { kinds, run } from './helpers.js';

const interval = () => new MmuIntervalNotifier({ *invalidate() { return true; } }, 'mirror');

describe('driver API misuse', () => {
  it('inserting an interval notifier that is already inserted is double-insert (-EINVAL); remove then insert is clean', () => {
    const r = run({
      setup: (w) => ({ mm: mm_alloc(w, 'mm'), sub: interval(), rets: [] as number[] }),
      tasks: {
        *driver(s) {
          s.rets.push(yield* mmu_interval_notifier_insert(s.sub, s.mm, 0x1000, 0x1000));
          s.rets.push(yield* mmu_interval_notifier_insert(s.sub, s.mm, 0x1000, 0x1000));
          yield* mmu_interval_notifier_remove(s.sub);
        },
      },
      check: (s) => (s.rets[1] === -22 ? null : `second insert returned ${s.rets[1]}`),
    });
    expect(kinds(r)).toEqual([DOUBLE_INSERT]);
    const ok = run({
      setup: (w) => ({ mm: mm_alloc(w, 'mm'), sub: interval() }),
      tasks: {
        *driver(s) {
          yield* mmu_interval_notifier_insert(s.sub, s.mm, 0x1000, 0x1000);
          yield* mmu_interval_notifier_remove(s.sub);
        },
      },
    });
    expect(kinds(ok)).toEqual([]);
  });

  it('unregistering a notifier twice is double-unregister and leaves mm_count alone; once is clean', () => {
    for (const times of [1, 2]) {
      const r = run({
        setup: (w) => ({ mm: mm_alloc(w, 'mm'), sub: new MmuNotifier({}, 'kvm') }),
        tasks: {
          *driver(s) {
            yield* mmu_notifier_register(s.sub, s.mm);
            for (let i = 0; i < times; i++) yield* mmu_notifier_unregister(s.sub, s.mm);
          },
        },
        check: (s) => (s.mm.mm_count === 1 ? null : `mm_count is ${s.mm.mm_count}`),
      });
      expect(kinds(r)).toEqual(times === 1 ? [] : [DOUBLE_UNREGISTER]);
    }
  });

  it('kmalloc of a negative, absurd or fractional size WARNs and returns NULL; a sane size does not', () => {
    for (const size of [-1, KMALLOC_MAX_SIZE + 1, 1e15, 1.5, 64]) {
      const r = run({
        setup: () => ({ got: undefined as unknown }),
        tasks: {
          *driver(s) {
            const a = yield* kmalloc(size, GFP_KERNEL);
            s.got = a;
            kfree(a);
          },
        },
        check: (s) => ((s.got === null) === (size !== 64) ? null : `kmalloc(${size}) returned ${JSON.stringify(s.got)}`),
      });
      expect(kinds(r), String(size)).toEqual(size === 64 ? [] : [KMALLOC_BAD_SIZE]);
    }
  });
});
