/**
 * migration_entry_wait queues on the migrating page before it drops the PTL: a migration that
 * finishes, frees the source, and sees the pfn handed out (locked) again before the waiter
 * sleeps must not leave the waiter asleep on that unrelated lock.
 */
import { describe, expect, it } from 'vitest';
import { mmap_read_lock, mmap_read_unlock } from '../../src/locking/mmap-lock.js';
import { mm_create, type Mm } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { folio_lock } from '../../src/mm/folio-lock.ts';
import { alloc_page_vma, copy_highpage } from '../../src/mm/page-copy.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { MigrateVma, find_vma, migrate_vma_finalize, migrate_vma_pages, migrate_vma_setup } from '../../src/hmm/migrate-vma.ts';
import { MIGRATE_PFN_MIGRATE, MIGRATE_VMA_SELECT_SYSTEM, migrate_pfn, migrate_pfn_to_page } from '../../src/hmm/migrate-pfn.ts';
import type { Strategy } from '../../src/sim/strategy.js';
import { World } from '../../src/sim/world.js';
import { kinds } from '../mm/helpers.ts';

const P = 4096;

interface S {
  mm: Mm;
  a: number;
  ready: boolean;
  value: number;
  reused: boolean;
}

/**
 * The schedule that opens the window: the CPU runs as soon as the migration has collected,
 * except that whenever its next step is the sleep on the folio, the migrator goes first.
 */
class WindowStrategy implements Strategy {
  readonly name = 'window';
  constructor(private readonly s: () => S) {}
  beginRun(): boolean {
    return true;
  }
  choose(world: World): number {
    const r = world.runnable;
    const cpu = r.findIndex((t) => t.name === 'cpu');
    const mig = r.findIndex((t) => t.name === 'migrator');
    if (cpu < 0) return 0;
    if (mig < 0) return cpu;
    if (!this.s().ready) return mig;
    return r[cpu]!.label.startsWith('folio_wait_locked') ? mig : cpu;
  }
  endRun(): void {}
  describe(): string {
    return 'window';
  }
}

function scenario() {
  const w = new World();
  let st: S | null = null;
  const strategy = new WindowStrategy(() => st!);
  strategy.beginRun();
  w.reset(1);
  const s: S = { mm: mm_create(w), a: 0, ready: false, value: -1, reused: false };
  st = s;
  const tasks = {
      *migrator(s: S) {
        const mm = s.mm;
        s.a = yield* sys_mmap(mm, 0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
        yield* write32(mm, s.a, 42);
        yield* mmap_read_lock(mm);
        const args = new MigrateVma({ vma: find_vma(mm, s.a), start: s.a, end: s.a + P, src: [0], dst: [0], pgmap_owner: null, flags: MIGRATE_VMA_SELECT_SYSTEM });
        yield* migrate_vma_setup(args);
        s.ready = true;
        const old = migrate_pfn_to_page(args.src![0]!);
        if (old === null || (args.src![0]! & MIGRATE_PFN_MIGRATE) === 0) throw new Error('not collected');
        const d = (yield* alloc_page_vma(mm))!;
        yield* folio_lock(d);
        copy_highpage(d, old);
        args.dst![0] = migrate_pfn(d);
        yield* migrate_vma_pages(args);
        yield* migrate_vma_finalize(args); // the source is freed here
        const again = (yield* alloc_page_vma(mm))!;
        yield* folio_lock(again); // its next user, which keeps it locked
        s.reused = again === old;
        yield* mmap_read_unlock(mm);
      },
      *cpu(s: S, w: World) {
        while (!s.ready) yield w.point('wait for the migration');
        s.value = yield* read32(s.mm, s.a);
      },
  };
  for (const [name, t] of Object.entries(tasks)) w.spawn(name, () => t(s, w));
  w.run(strategy);
  for (const h of w.endOfRunChecks) h();
  return { s, w };
}

describe('migration_entry_wait', () => {
  it('never sleeps on a pfn freed and locked again after the migration finished', () => {
    const { s, w } = scenario();
    expect(s.reused).toBe(true); // the freed source did come back, locked
    expect(kinds(w)).toEqual([]);
    expect(s.value).toBe(42);
  });
});
