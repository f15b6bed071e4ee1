/**
 * Page-table entry values: encoding, decoding, predicates and modifiers.
 *
 * A PTE value is one JS number, `pfnOrSlot * 2^16 + bits`, so that it can be
 * copied, compared (`pteSame` is `===`) and kept across a scheduling point like
 * the kernel's `pte_t`, while the page table stores it as two typed-array
 * slots (an Int32 pfn/slot and a Uint16 bits word) to stay small. `bits` holds
 * the entry kind in its low 3 bits and the flag bits above. The kinds mirror
 * what a kernel PTE can hold: none, a present mapping, or one of the
 * non-present "swap-format" entries (a real swap entry, a migration entry, a
 * device-private entry, a device-exclusive entry).
 *
 * The value 0 is exactly the none entry: every helper that makes an entry of
 * kind none returns 0, so `pte === 0` and `pteNone(pte)` agree.
 *
 * pfn and slot must lie in [0, 2^31 - 1] (they are stored as Int32); the
 * constructors do not check that on the hot path, `encodePte` does.
 *
 * Helper names follow the kernel's (pte_none → pteNone, is_migration_entry →
 * isMigrationEntry, pte_mkwrite → pteMkwrite, ...). In the kernel the
 * non-present helpers take a `swp_entry_t` decoded from the PTE; here they take
 * the PTE value itself, since the decoding step carries no information.
 */

/** A PTE value (see the module comment for its layout). */
export type Pte = number;

/** Entry kind: nothing mapped. */
export const PTE_KIND_NONE = 0;
/** Entry kind: a present mapping of a frame. */
export const PTE_KIND_PRESENT = 1;
/** Entry kind: a swap entry; the pfn field holds the swap slot. */
export const PTE_KIND_SWAP = 2;
/** Entry kind: a migration entry holding the pfn of the page being migrated. */
export const PTE_KIND_MIGRATION = 3;
/** Entry kind: a device-private entry holding the pfn of a device-private page. */
export const PTE_KIND_DEVICE_PRIVATE = 4;
/** Entry kind: a device-exclusive entry holding the pfn of the page the device owns. */
export const PTE_KIND_DEVICE_EXCLUSIVE = 5;
/** Number of entry kinds. */
export const PTE_KIND_COUNT = 6;

/** The entry kinds as a type. */
export type PteKind = 0 | 1 | 2 | 3 | 4 | 5;

/** Bits of the bits word holding the kind. */
export const PTE_KIND_BITS = 0x7;
/** Writable (the kernel's _PAGE_RW; for non-present entries, the "writable" variant). */
export const PTE_WRITE = 0x8;
/** Dirty (for migration entries: the dirty bit carried across migration). */
export const PTE_DIRTY = 0x10;
/** Young / accessed (for migration entries: the young bit carried across migration). */
export const PTE_YOUNG = 0x20;
/** Special: no struct page behind it is refcounted (the shared zero page, PFN maps). */
export const PTE_SPECIAL = 0x40;
/** Soft-dirty (present or swap-format). */
export const PTE_SOFT_DIRTY = 0x80;
/** userfaultfd write-protect marker (present or swap-format). */
export const PTE_UFFD_WP = 0x100;
/**
 * Anon-exclusive marker on non-present entries: pte_swp_exclusive on a swap
 * entry, and the "readable exclusive" variant of a migration entry.
 */
export const PTE_EXCLUSIVE = 0x200;
/**
 * PROT_NONE: a present entry the CPU may not access (the kernel's pte_protnone). mprotect to
 * PROT_NONE keeps the frame mapped, so its contents and refcounts survive, but every access
 * faults; the coherence oracle treats such an entry as "the CPU maps nothing here".
 */
export const PTE_PROTNONE = 0x400;
/** Every flag bit (everything above the kind). */
export const PTE_FLAG_BITS = 0x7f8;

/** Multiplier placing the pfn/slot above the 16-bit bits word. */
export const PTE_PFN_SCALE = 0x10000;
/** Largest pfn or slot an entry can hold. */
export const PTE_MAX_PFN = 0x7fffffff;

/** Kind-mask bit for one kind, for the page table's filtered iteration. */
export function kindMask(kind: PteKind): number {
  return 1 << kind;
}
/** Kind mask selecting present entries. */
export const KIND_MASK_PRESENT = 1 << PTE_KIND_PRESENT;
/** Kind mask selecting every kind except none. */
export const KIND_MASK_ANY = ((1 << PTE_KIND_COUNT) - 1) & ~1;
/** Kind mask selecting the non-present, non-none kinds (kernel: is_swap_pte). */
export const KIND_MASK_SWAP_FORMAT = KIND_MASK_ANY & ~KIND_MASK_PRESENT;

// ---------------------------------------------------------------- encoding

/** Build an entry from its parts (no range checks; see `encodePte`). Kind none gives 0. */
export function mkPte(kind: PteKind, pfnOrSlot: number, flags: number): Pte {
  if (kind === PTE_KIND_NONE) return 0;
  return pfnOrSlot * PTE_PFN_SCALE + ((flags & PTE_FLAG_BITS) | kind);
}

/** Build an entry from the two storage slots (the inverse of `ptePfn` + `pteBits`). */
export function pteFromSlots(pfnOrSlot: number, bits: number): Pte {
  return pfnOrSlot * PTE_PFN_SCALE + bits;
}

/** The 16-bit bits word (kind and flags). */
export function pteBits(pte: Pte): number {
  // `&` reduces modulo 2^32 exactly for integers up to 2^53, so this is safe on a 47-bit value.
  return pte & 0xffff;
}

/** The entry kind. */
export function pteKind(pte: Pte): PteKind {
  return (pte & PTE_KIND_BITS) as PteKind;
}

/** The flag bits. */
export function pteFlags(pte: Pte): number {
  return pte & PTE_FLAG_BITS;
}

/** The pfn field (pfn for present/migration/device entries, slot for swap entries). */
export function ptePfn(pte: Pte): number {
  return (pte - (pte & 0xffff)) / PTE_PFN_SCALE;
}

/** Fields of an entry, for tests, traces and debugging (allocates; not for hot paths). */
export interface PteFields {
  /** Entry kind (PTE_KIND_*). */
  kind: PteKind;
  /** pfn, or swap slot for swap entries; 0 for none. */
  pfn: number;
  /** Flag bits (PTE_WRITE | PTE_DIRTY | ...). */
  flags: number;
}

/**
 * Checked encode.
 * @throws Error if the pfn/slot is outside [0, 2^31 - 1], flags has bits
 *   outside PTE_FLAG_BITS, or a none entry carries a pfn or flags.
 */
export function encodePte(f: PteFields): Pte {
  if (!Number.isInteger(f.pfn) || f.pfn < 0 || f.pfn > PTE_MAX_PFN) {
    throw new Error(`encodePte: pfn/slot ${String(f.pfn)} is outside [0, 2^31 - 1]`);
  }
  if ((f.flags & ~PTE_FLAG_BITS) !== 0) {
    throw new Error(`encodePte: flags 0x${f.flags.toString(16)} has bits outside PTE_FLAG_BITS`);
  }
  if (f.kind === PTE_KIND_NONE && (f.pfn !== 0 || f.flags !== 0)) {
    throw new Error('encodePte: a none entry carries no pfn and no flags');
  }
  return mkPte(f.kind, f.pfn, f.flags);
}

/** Decode an entry into its fields. */
export function decodePte(pte: Pte): PteFields {
  return { kind: pteKind(pte), pfn: ptePfn(pte), flags: pteFlags(pte) };
}

// ---------------------------------------------------------------- kind predicates

/** Nothing mapped (kernel pte_none). */
export function pteNone(pte: Pte): boolean {
  return pte === 0;
}

/** A present mapping (kernel pte_present). */
export function ptePresent(pte: Pte): boolean {
  return (pte & PTE_KIND_BITS) === PTE_KIND_PRESENT;
}

/** Non-none and non-present: any swap-format entry (kernel is_swap_pte). */
export function isSwapPte(pte: Pte): boolean {
  const k = pte & PTE_KIND_BITS;
  return k !== PTE_KIND_NONE && k !== PTE_KIND_PRESENT;
}

/** A real swap entry, pointing at a swap slot. */
export function isSwapEntry(pte: Pte): boolean {
  return (pte & PTE_KIND_BITS) === PTE_KIND_SWAP;
}

/** A swap-format entry that is not a real swap entry (kernel non_swap_entry). */
export function nonSwapEntry(pte: Pte): boolean {
  const k = pte & PTE_KIND_BITS;
  return k > PTE_KIND_SWAP;
}

/** A migration entry (kernel is_migration_entry). */
export function isMigrationEntry(pte: Pte): boolean {
  return (pte & PTE_KIND_BITS) === PTE_KIND_MIGRATION;
}

/** A device-private entry (kernel is_device_private_entry). */
export function isDevicePrivateEntry(pte: Pte): boolean {
  return (pte & PTE_KIND_BITS) === PTE_KIND_DEVICE_PRIVATE;
}

/** A device-exclusive entry (kernel is_device_exclusive_entry). */
export function isDeviceExclusiveEntry(pte: Pte): boolean {
  return (pte & PTE_KIND_BITS) === PTE_KIND_DEVICE_EXCLUSIVE;
}

/** A swap-format entry that holds a pfn: migration, device-private or device-exclusive. */
export function isPfnSwapEntry(pte: Pte): boolean {
  return nonSwapEntry(pte);
}

/** A writable migration entry. */
export function isWritableMigrationEntry(pte: Pte): boolean {
  return isMigrationEntry(pte) && (pte & PTE_WRITE) !== 0;
}

/** A readable migration entry of an anon-exclusive page. */
export function isReadableExclusiveMigrationEntry(pte: Pte): boolean {
  return isMigrationEntry(pte) && (pte & (PTE_WRITE | PTE_EXCLUSIVE)) === PTE_EXCLUSIVE;
}

/** A writable device-private entry. */
export function isWritableDevicePrivateEntry(pte: Pte): boolean {
  return isDevicePrivateEntry(pte) && (pte & PTE_WRITE) !== 0;
}

/** A writable device-exclusive entry. */
export function isWritableDeviceExclusiveEntry(pte: Pte): boolean {
  return isDeviceExclusiveEntry(pte) && (pte & PTE_WRITE) !== 0;
}

// ---------------------------------------------------------------- flag predicates

/** Writable (present entries; for others see the is_writable_* helpers). */
export function pteWrite(pte: Pte): boolean {
  return (pte & PTE_WRITE) !== 0;
}
/** Dirty. */
export function pteDirty(pte: Pte): boolean {
  return (pte & PTE_DIRTY) !== 0;
}
/** Young (accessed). */
export function pteYoung(pte: Pte): boolean {
  return (pte & PTE_YOUNG) !== 0;
}
/** Special (no refcounted page behind it). */
export function pteSpecial(pte: Pte): boolean {
  return (pte & PTE_SPECIAL) !== 0;
}
/** Soft-dirty. */
export function pteSoftDirty(pte: Pte): boolean {
  return (pte & PTE_SOFT_DIRTY) !== 0;
}
/** userfaultfd write-protected. */
export function pteUffdWp(pte: Pte): boolean {
  return (pte & PTE_UFFD_WP) !== 0;
}
/** Exclusive marker on a swap entry (kernel pte_swp_exclusive). */
export function pteSwpExclusive(pte: Pte): boolean {
  return (pte & PTE_EXCLUSIVE) !== 0;
}
/** Present but inaccessible (kernel pte_protnone). */
export function pteProtnone(pte: Pte): boolean {
  return (pte & PTE_PROTNONE) !== 0;
}
/** Same entry (kernel pte_same). */
export function pteSame(a: Pte, b: Pte): boolean {
  return a === b;
}

// ---------------------------------------------------------------- modifiers

function setFlag(pte: Pte, f: number): Pte {
  return pte === 0 ? 0 : pte - (pte & f) + f;
}
function clearFlag(pte: Pte, f: number): Pte {
  return pte - (pte & f);
}

/** Set the write bit. */
export function pteMkwrite(pte: Pte): Pte {
  return setFlag(pte, PTE_WRITE);
}
/** Clear the write bit (kernel pte_wrprotect). */
export function pteWrprotect(pte: Pte): Pte {
  return clearFlag(pte, PTE_WRITE);
}
/** Set the dirty bit. */
export function pteMkdirty(pte: Pte): Pte {
  return setFlag(pte, PTE_DIRTY);
}
/** Clear the dirty bit. */
export function pteMkclean(pte: Pte): Pte {
  return clearFlag(pte, PTE_DIRTY);
}
/** Set the young bit. */
export function pteMkyoung(pte: Pte): Pte {
  return setFlag(pte, PTE_YOUNG);
}
/** Clear the young bit. */
export function pteMkold(pte: Pte): Pte {
  return clearFlag(pte, PTE_YOUNG);
}
/** Set the special bit. */
export function pteMkspecial(pte: Pte): Pte {
  return setFlag(pte, PTE_SPECIAL);
}
/** Set soft-dirty. */
export function pteMksoftDirty(pte: Pte): Pte {
  return setFlag(pte, PTE_SOFT_DIRTY);
}
/** Clear soft-dirty. */
export function pteClearSoftDirty(pte: Pte): Pte {
  return clearFlag(pte, PTE_SOFT_DIRTY);
}
/** Set the uffd-wp marker. */
export function pteMkuffdWp(pte: Pte): Pte {
  return setFlag(pte, PTE_UFFD_WP);
}
/** Clear the uffd-wp marker. */
export function pteClearUffdWp(pte: Pte): Pte {
  return clearFlag(pte, PTE_UFFD_WP);
}
/** Make a present entry inaccessible (PROT_NONE). */
export function pteMkprotnone(pte: Pte): Pte {
  return setFlag(pte, PTE_PROTNONE);
}
/** Make a PROT_NONE entry accessible again. */
export function pteClearProtnone(pte: Pte): Pte {
  return clearFlag(pte, PTE_PROTNONE);
}
/** Mark a swap entry exclusive (kernel pte_swp_mkexclusive). */
export function pteSwpMkexclusive(pte: Pte): Pte {
  return setFlag(pte, PTE_EXCLUSIVE);
}
/** Clear a swap entry's exclusive marker. */
export function pteSwpClearExclusive(pte: Pte): Pte {
  return clearFlag(pte, PTE_EXCLUSIVE);
}

// ---------------------------------------------------------------- constructors

/** A present entry mapping `pfn` with the given flags (kernel pfn_pte). */
export function pfnPte(pfn: number, flags: number): Pte {
  return mkPte(PTE_KIND_PRESENT, pfn, flags);
}
/** A swap entry for `slot` (kernel swp_entry_to_pte). Flags: soft-dirty, uffd-wp, exclusive. */
export function swapPte(slot: number, flags = 0): Pte {
  return mkPte(PTE_KIND_SWAP, slot, flags);
}
/** The swap slot of a swap entry (kernel swp_offset). */
export function swpOffset(pte: Pte): number {
  return ptePfn(pte);
}
/** The pfn held by a migration, device-private or device-exclusive entry (kernel swp_offset_pfn). */
export function pfnSwapEntryToPfn(pte: Pte): number {
  return ptePfn(pte);
}
/** A read-only migration entry. */
export function makeReadableMigrationEntry(pfn: number, flags = 0): Pte {
  return mkPte(PTE_KIND_MIGRATION, pfn, flags & ~(PTE_WRITE | PTE_EXCLUSIVE));
}
/** A read-only migration entry for an anon-exclusive page. */
export function makeReadableExclusiveMigrationEntry(pfn: number, flags = 0): Pte {
  return mkPte(PTE_KIND_MIGRATION, pfn, (flags & ~PTE_WRITE) | PTE_EXCLUSIVE);
}
/** A writable migration entry. */
export function makeWritableMigrationEntry(pfn: number, flags = 0): Pte {
  return mkPte(PTE_KIND_MIGRATION, pfn, flags | PTE_WRITE);
}
/** A read-only device-private entry. */
export function makeReadableDevicePrivateEntry(pfn: number, flags = 0): Pte {
  return mkPte(PTE_KIND_DEVICE_PRIVATE, pfn, flags & ~PTE_WRITE);
}
/** A writable device-private entry. */
export function makeWritableDevicePrivateEntry(pfn: number, flags = 0): Pte {
  return mkPte(PTE_KIND_DEVICE_PRIVATE, pfn, flags | PTE_WRITE);
}
/** A read-only device-exclusive entry (the legacy range API could make these). */
export function makeReadableDeviceExclusiveEntry(pfn: number, flags = 0): Pte {
  return mkPte(PTE_KIND_DEVICE_EXCLUSIVE, pfn, flags & ~PTE_WRITE);
}
/** A writable device-exclusive entry (what make_device_exclusive installs). */
export function makeWritableDeviceExclusiveEntry(pfn: number, flags = 0): Pte {
  return mkPte(PTE_KIND_DEVICE_EXCLUSIVE, pfn, flags | PTE_WRITE);
}

// ---------------------------------------------------------------- formatting

const KIND_NAMES = ['none', 'present', 'swap', 'migration', 'device-private', 'device-exclusive'];

/** Name of a kind, e.g. `device-private`. */
export function pteKindName(kind: PteKind): string {
  return KIND_NAMES[kind] ?? `kind${String(kind)}`;
}

/** Short human form for traces, e.g. `present pfn=5 WDA` or `swap slot=3`. */
export function describePte(pte: Pte): string {
  if (pte === 0) return 'none';
  const kind = pteKind(pte);
  const field = kind === PTE_KIND_SWAP ? 'slot' : 'pfn';
  let f = '';
  if (pte & PTE_WRITE) f += 'W';
  if (pte & PTE_DIRTY) f += 'D';
  if (pte & PTE_YOUNG) f += 'A';
  if (pte & PTE_SPECIAL) f += 'S';
  if (pte & PTE_SOFT_DIRTY) f += 's';
  if (pte & PTE_UFFD_WP) f += 'u';
  if (pte & PTE_EXCLUSIVE) f += 'x';
  if (pte & PTE_PROTNONE) f += 'n';
  return `${pteKindName(kind)} ${field}=${String(ptePfn(pte))}${f ? ` ${f}` : ''}`;
}
