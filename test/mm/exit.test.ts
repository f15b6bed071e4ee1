/** exit: mmput, and exit_mmap's release-then-unmap teardown. */
import { describe, expect, it } from 'vitest';
import { explore } from '../../src/sim/explore.js';
import { Access } from '../../src/sim/point.js';
import type { Program } from '../../src/sim/program.js';
import { DfsStrategy } from '../../src/sim/strategies/dfs.js';
import { mm_create, mmget, mmget_not_zero } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { write32 } from '../../src/mm/cpu-access.ts';
import { mmput, sys_exit } from '../../src/mm/exit.ts';
import { ULONG_MAX } from '../../src/notifier/events.js';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import { rwsem_is_held } from '../../src/locking/rwsem.js';
import { MmuIntervalNotifier, mmu_interval_notifier_insert, mmu_interval_set_seq } from '../../src/notifier/interval.js';
import { kinds, recordInvalidations, rng, run1 } from './helpers.ts';

const P = 4096;

describe('exit', () => {
  it('calls release first, then UNMAP of the whole address space under the read lock, then frees everything', () => {
    const { value } = run1(function* (w) {
      const mm = mm_create(w);
      const a = yield* sys_mmap(mm, 0, 3 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
      for (let i = 0; i < 3; i++) yield* write32(mm, a + i * P, i + 1);
      const classic = yield* recordInvalidations(mm);
      // Interval notifiers stay in the tree after release, so they also see the unmap.
      const interval: string[] = [];
      const sub = new MmuIntervalNotifier({
        *invalidate(s, r, seq) {
          mmu_interval_set_seq(s, seq);
          interval.push(`${rng(['UNMAP', 'CLEAR', 'PV', 'PP', 'SD', 'RELEASE'][r.event]!, r.start, r.end)} ${rwsem_is_held(mm.mmap_lock, true) ? 'write' : rwsem_is_held(mm.mmap_lock) ? 'read' : 'none'} ${mm.sys.frames.ramInUse}`);
          return true;
        },
      });
      yield* mmu_interval_notifier_insert(sub, mm, 0, 2 ** 47);
      yield* sys_exit(mm);
      return { classic: classic.map((s) => s.op), interval, dead: mm.dead, ram: mm.sys.frames.ramInUse, vmas: mm.vmas.count, leaves: mm.pt.leafCount, listed: mm.sys.mms.includes(mm) };
    });
    // Classic subscriptions are unlinked by release: they see nothing after it.
    expect(value.classic).toEqual(['release']);
    // The pages are still there when the unmap starts; freed by the end of exit.
    expect(value.interval).toEqual([`${rng('RELEASE', 0, ULONG_MAX)} none 3`, `${rng('UNMAP', 0, ULONG_MAX)} read 3`]);
    expect(value).toMatchObject({ dead: true, ram: 0, vmas: 0, leaves: 0, listed: false });
  });

  it('tears down only when the last user goes; one put too many is a WARN', () => {
    const { value, w } = run1(function* (w) {
      const mm = mm_create(w);
      yield* sys_mmap(mm, 0, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS);
      yield* mmget(mm);
      yield* mmput(mm);
      const alive = !mm.dead;
      yield* mmput(mm);
      yield* mmput(mm);
      return { alive, dead: mm.dead };
    });
    expect(value).toEqual({ alive: true, dead: true });
    expect(kinds(w)).toEqual(['warn']);
  });
});

describe('mm_users changes are points naming the mm', () => {
  it('the explorer sees both orders of an mmget_not_zero racing the last mmput, and the last put tears down in its own task', () => {
    const outcomes = new Set<string>();
    const program: Program = {
      start(w) {
        const mm = mm_create(w);
        const a = { name: 'a-private' };
        const b = { name: 'b-private' };
        w.spawn('getter', function* () {
          yield w.point('getter work', a, Access.Write);
          const got = yield* mmget_not_zero(mm);
          if (got) yield* mmput(mm);
          outcomes.add(`got=${got}`);
        });
        w.spawn('exiter', function* () {
          yield w.point('exiter work', b, Access.Write);
          yield* mmput(mm);
          outcomes.add(`exiter saw dead=${mm.dead}`);
        });
      },
    };
    const r = explore(program, new DfsStrategy(2), { seed: 1, maxRuns: 1000 });
    expect(r.exhausted).toBe(true);
    // got=true: the getter's put is the last and tears down in the getter, so the exiter sees it alive.
    expect([...outcomes].sort()).toEqual(['exiter saw dead=false', 'exiter saw dead=true', 'got=false', 'got=true']);
  });
});
