import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  KIND_MASK_ANY,
  KIND_MASK_PRESENT,
  KIND_MASK_SWAP_FORMAT,
  PTE_DIRTY,
  PTE_EXCLUSIVE,
  PTE_FLAG_BITS,
  PTE_KIND_DEVICE_EXCLUSIVE,
  PTE_KIND_DEVICE_PRIVATE,
  PTE_KIND_MIGRATION,
  PTE_KIND_NONE,
  PTE_KIND_PRESENT,
  PTE_KIND_SWAP,
  PTE_MAX_PFN,
  PTE_SOFT_DIRTY,
  PTE_SPECIAL,
  PTE_UFFD_WP,
  PTE_WRITE,
  PTE_YOUNG,
  type PteKind,
  decodePte,
  describePte,
  encodePte,
  isDeviceExclusiveEntry,
  isDevicePrivateEntry,
  isMigrationEntry,
  isPfnSwapEntry,
  isReadableExclusiveMigrationEntry,
  isSwapEntry,
  isSwapPte,
  isWritableDeviceExclusiveEntry,
  isWritableDevicePrivateEntry,
  isWritableMigrationEntry,
  kindMask,
  makeReadableDeviceExclusiveEntry,
  makeReadableDevicePrivateEntry,
  makeReadableExclusiveMigrationEntry,
  makeReadableMigrationEntry,
  makeWritableDeviceExclusiveEntry,
  makeWritableDevicePrivateEntry,
  makeWritableMigrationEntry,
  mkPte,
  nonSwapEntry,
  pfnPte,
  pfnSwapEntryToPfn,
  pteBits,
  pteClearSoftDirty,
  pteClearUffdWp,
  pteDirty,
  pteFlags,
  pteFromSlots,
  pteKind,
  pteMkclean,
  pteMkdirty,
  pteMkold,
  pteMksoftDirty,
  pteMkspecial,
  pteMkuffdWp,
  pteMkwrite,
  pteMkyoung,
  pteNone,
  ptePfn,
  ptePresent,
  pteSame,
  pteSoftDirty,
  pteSpecial,
  pteSwpClearExclusive,
  pteSwpExclusive,
  pteSwpMkexclusive,
  pteUffdWp,
  pteWrite,
  pteWrprotect,
  pteYoung,
  swapPte,
  swpOffset,
} from '../../src/mm/pte.ts';

const kindArb = fc.constantFrom<PteKind>(1, 2, 3, 4, 5);
const flagsArb = fc.integer({ min: 0, max: 0x3ff }).map((f) => f & PTE_FLAG_BITS);
const pfnArb = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: PTE_MAX_PFN }));

describe('pte: encoding', () => {
  it('none is exactly 0 and pteNone agrees', () => {
    expect(mkPte(PTE_KIND_NONE, 5, PTE_WRITE)).toBe(0);
    expect(pteNone(0)).toBe(true);
    expect(pteNone(pfnPte(0, 0))).toBe(false);
    expect(pteKind(0)).toBe(PTE_KIND_NONE);
  });

  it('round-trips kind, pfn and flags for every kind, including pfn 2^31-1', () => {
    fc.assert(
      fc.property(kindArb, pfnArb, flagsArb, (kind, pfn, flags) => {
        const pte = encodePte({ kind, pfn, flags });
        expect(Number.isSafeInteger(pte)).toBe(true);
        expect(decodePte(pte)).toEqual({ kind, pfn, flags });
        expect(pteKind(pte)).toBe(kind);
        expect(ptePfn(pte)).toBe(pfn);
        expect(pteFlags(pte)).toBe(flags);
        // The two storage slots rebuild the same value.
        expect(pteFromSlots(ptePfn(pte), pteBits(pte))).toBe(pte);
        expect(pteBits(pte)).toBeLessThan(0x10000);
      }),
    );
  });

  it('distinct field tuples give distinct values', () => {
    fc.assert(
      fc.property(kindArb, pfnArb, flagsArb, kindArb, pfnArb, flagsArb, (k1, p1, f1, k2, p2, f2) => {
        const same = k1 === k2 && p1 === p2 && f1 === f2;
        expect(pteSame(mkPte(k1, p1, f1), mkPte(k2, p2, f2))).toBe(same);
      }),
    );
  });

  it('encodePte rejects out-of-range pfns, stray flag bits and a none entry with payload', () => {
    expect(() => encodePte({ kind: 1, pfn: -1, flags: 0 })).toThrow(/pfn/);
    expect(() => encodePte({ kind: 1, pfn: 2 ** 31, flags: 0 })).toThrow(/pfn/);
    expect(() => encodePte({ kind: 1, pfn: 1, flags: 0x1 })).toThrow(/flags/);
    expect(() => encodePte({ kind: 0, pfn: 3, flags: 0 })).toThrow(/none/);
    expect(encodePte({ kind: 0, pfn: 0, flags: 0 })).toBe(0);
  });
});

describe('pte: kind predicates', () => {
  it('exactly one kind predicate holds for each kind', () => {
    fc.assert(
      fc.property(kindArb, pfnArb, flagsArb, (kind, pfn, flags) => {
        const pte = mkPte(kind, pfn, flags);
        const hits = [ptePresent, isSwapEntry, isMigrationEntry, isDevicePrivateEntry, isDeviceExclusiveEntry].map((p) =>
          p(pte),
        );
        expect(hits.filter(Boolean)).toHaveLength(1);
        expect(hits.indexOf(true) + 1).toBe(kind);
        expect(isSwapPte(pte)).toBe(kind !== PTE_KIND_PRESENT);
        expect(nonSwapEntry(pte)).toBe(kind > PTE_KIND_SWAP);
        expect(isPfnSwapEntry(pte)).toBe(kind > PTE_KIND_SWAP);
        expect(((KIND_MASK_ANY >> kind) & 1) === 1).toBe(true);
        expect(((KIND_MASK_SWAP_FORMAT >> kind) & 1) === 1).toBe(kind !== PTE_KIND_PRESENT);
        expect(kindMask(kind) & KIND_MASK_PRESENT).toBe(kind === PTE_KIND_PRESENT ? KIND_MASK_PRESENT : 0);
      }),
    );
  });

  it('none is neither present nor swap-format', () => {
    expect(ptePresent(0) || isSwapPte(0) || isSwapEntry(0) || nonSwapEntry(0)).toBe(false);
  });
});

describe('pte: constructors', () => {
  it('swap entries carry their slot and the swap flags', () => {
    const p = swapPte(77, PTE_SOFT_DIRTY | PTE_EXCLUSIVE);
    expect(isSwapEntry(p)).toBe(true);
    expect(swpOffset(p)).toBe(77);
    expect(pteSoftDirty(p)).toBe(true);
    expect(pteSwpExclusive(p)).toBe(true);
    expect(pteSwpExclusive(pteSwpClearExclusive(p))).toBe(false);
    expect(pteSwpMkexclusive(swapPte(77))).toBe(swapPte(77, PTE_EXCLUSIVE));
  });

  it('migration entries: readable, readable-exclusive, writable', () => {
    const r = makeReadableMigrationEntry(9, PTE_WRITE | PTE_YOUNG);
    const rx = makeReadableExclusiveMigrationEntry(9);
    const w = makeWritableMigrationEntry(9, PTE_DIRTY);
    expect([isMigrationEntry(r), isMigrationEntry(rx), isMigrationEntry(w)]).toEqual([true, true, true]);
    expect([isWritableMigrationEntry(r), isWritableMigrationEntry(rx), isWritableMigrationEntry(w)]).toEqual([
      false,
      false,
      true,
    ]);
    expect([
      isReadableExclusiveMigrationEntry(r),
      isReadableExclusiveMigrationEntry(rx),
      isReadableExclusiveMigrationEntry(w),
    ]).toEqual([false, true, false]);
    expect(pteYoung(r)).toBe(true);
    expect(pteDirty(w)).toBe(true);
    expect([r, rx, w].map(pfnSwapEntryToPfn)).toEqual([9, 9, 9]);
  });

  it('device-private and device-exclusive entries, readable and writable', () => {
    expect(isWritableDevicePrivateEntry(makeWritableDevicePrivateEntry(3))).toBe(true);
    expect(isWritableDevicePrivateEntry(makeReadableDevicePrivateEntry(3, PTE_WRITE))).toBe(false);
    expect(isDevicePrivateEntry(makeReadableDevicePrivateEntry(3))).toBe(true);
    expect(isWritableDeviceExclusiveEntry(makeWritableDeviceExclusiveEntry(4, PTE_SOFT_DIRTY))).toBe(true);
    expect(isWritableDeviceExclusiveEntry(makeReadableDeviceExclusiveEntry(4))).toBe(false);
    expect(pteSoftDirty(makeWritableDeviceExclusiveEntry(4, PTE_SOFT_DIRTY))).toBe(true);
    expect(isWritableMigrationEntry(makeWritableDevicePrivateEntry(3))).toBe(false);
    expect(pfnSwapEntryToPfn(makeWritableDeviceExclusiveEntry(123456789))).toBe(123456789);
  });
});

describe('pte: modifiers', () => {
  const mods: [string, (p: number) => number, (p: number) => boolean, boolean, number][] = [
    ['mkwrite', pteMkwrite, pteWrite, true, PTE_WRITE],
    ['wrprotect', pteWrprotect, pteWrite, false, PTE_WRITE],
    ['mkdirty', pteMkdirty, pteDirty, true, PTE_DIRTY],
    ['mkclean', pteMkclean, pteDirty, false, PTE_DIRTY],
    ['mkyoung', pteMkyoung, pteYoung, true, PTE_YOUNG],
    ['mkold', pteMkold, pteYoung, false, PTE_YOUNG],
    ['mkspecial', pteMkspecial, pteSpecial, true, PTE_SPECIAL],
    ['mksoftDirty', pteMksoftDirty, pteSoftDirty, true, PTE_SOFT_DIRTY],
    ['clearSoftDirty', pteClearSoftDirty, pteSoftDirty, false, PTE_SOFT_DIRTY],
    ['mkuffdWp', pteMkuffdWp, pteUffdWp, true, PTE_UFFD_WP],
    ['clearUffdWp', pteClearUffdWp, pteUffdWp, false, PTE_UFFD_WP],
  ];

  it('each modifier sets or clears only its own bit, idempotently', () => {
    fc.assert(
      fc.property(kindArb, pfnArb, flagsArb, fc.constantFrom(...mods), (kind, pfn, flags, [, mod, pred, on, bit]) => {
        const pte = mkPte(kind, pfn, flags);
        const out = mod(pte);
        expect(pred(out)).toBe(on);
        expect(mod(out)).toBe(out);
        expect(pteKind(out)).toBe(kind);
        expect(ptePfn(out)).toBe(pfn);
        expect(pteFlags(out) & ~bit).toBe(flags & ~bit);
      }),
    );
  });

  it('modifiers keep the none entry none', () => {
    for (const [, mod] of mods) expect(mod(0)).toBe(0);
  });
});

describe('pte: describePte', () => {
  it('names kind, pfn/slot and flags', () => {
    expect(describePte(0)).toBe('none');
    expect(describePte(pfnPte(5, PTE_WRITE | PTE_DIRTY | PTE_YOUNG))).toBe('present pfn=5 WDA');
    expect(describePte(swapPte(3))).toBe('swap slot=3');
    expect(describePte(makeWritableDeviceExclusiveEntry(8))).toBe('device-exclusive pfn=8 W');
    expect(describePte(mkPte(PTE_KIND_MIGRATION, 1, PTE_EXCLUSIVE))).toBe('migration pfn=1 x');
    expect(describePte(mkPte(PTE_KIND_DEVICE_PRIVATE, 2, 0))).toBe('device-private pfn=2');
    expect(describePte(mkPte(PTE_KIND_DEVICE_EXCLUSIVE, 2, PTE_SPECIAL))).toContain('S');
  });
});
