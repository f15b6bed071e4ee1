/**
 * fork over a migration entry (copy_nonpresent_pte, review item 14): in a COW mapping any entry
 * that is not readable-only (writable, or readable-exclusive since v5.19's anon-exclusive
 * tracking) becomes readable-only in the parent too, and the child's copy is never exclusive.
 */
import { describe, expect, it } from 'vitest';
import { mm_create } from '../../src/mm/mm-struct.ts';
import { sys_mmap } from '../../src/mm/mmap.ts';
import { write32 } from '../../src/mm/cpu-access.ts';
import { sys_fork } from '../../src/mm/fork.ts';
import { MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE } from '../../src/mm/vma-ops.ts';
import {
  PTE_EXCLUSIVE,
  PTE_WRITE,
  isMigrationEntry,
  isReadableExclusiveMigrationEntry,
  makeReadableExclusiveMigrationEntry,
  makeWritableMigrationEntry,
  ptePfn,
} from '../../src/mm/pte.ts';
import { run1 } from './helpers.ts';

const P = 4096;

/** Parent and child entries after forking over a migration entry built by `make`. */
function forkOver(make: (pfn: number) => number) {
  return run1(function* (w) {
    const mm = mm_create(w);
    const a = yield* sys_mmap(mm, 0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    yield* write32(mm, a, 1);
    const present = mm.pt.get(a);
    const entry = make(ptePfn(present));
    mm.pt.set(a, entry); // as migrate_vma's collect leaves it, mid-migration
    const child = yield* sys_fork(mm);
    if (typeof child === 'number') throw new Error(`fork failed: ${child}`);
    const out = { before: entry, parent: mm.pt.get(a), child: child.pt.get(a) };
    // Finish "the migration" in place so the run ends consistent.
    mm.pt.set(a, present - (present & PTE_WRITE));
    child.pt.set(a, 0);
    return out;
  }).value;
}

describe('fork over a migration entry in a COW mapping', () => {
  it('a readable-exclusive entry becomes readable-only in the parent, and the child gets readable-only', () => {
    const r = forkOver((pfn) => makeReadableExclusiveMigrationEntry(pfn));
    expect(isReadableExclusiveMigrationEntry(r.before)).toBe(true);
    expect(isMigrationEntry(r.parent)).toBe(true);
    expect(r.parent & (PTE_WRITE | PTE_EXCLUSIVE)).toBe(0);
    expect(r.child & (PTE_WRITE | PTE_EXCLUSIVE)).toBe(0);
  });
  it('a writable entry likewise', () => {
    const r = forkOver((pfn) => makeWritableMigrationEntry(pfn));
    expect(r.parent & (PTE_WRITE | PTE_EXCLUSIVE)).toBe(0);
    expect(r.child & (PTE_WRITE | PTE_EXCLUSIVE)).toBe(0);
  });
});
