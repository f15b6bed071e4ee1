/** The run's memory: misuse records become findings at once; frees reach the coherence oracle. */
import { describe, expect, it } from 'vitest';
import { mm_create, memory_system } from '../../src/mm/mm-struct.ts';
import { memoryOf } from '../../src/mm/memory.ts';
import { device_map, device_shadow_create } from '../../src/notifier/coherence.js';
import { World } from '../../src/sim/world.js';
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
