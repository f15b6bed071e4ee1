/**
 * Whole-system consistency of the mm layer, for tests and end-of-run checks (INV-MAPCOUNT and
 * friends): recount every reference from the page tables, the page cache and the swap cache, and
 * compare with what the frames and swap slots say.
 *
 *     mapcount(pfn)   = present (non-special), device-private and device-exclusive entries
 *                       naming pfn, over every live mm (v5.14–v6.14: without the
 *                       device-exclusive ones, a known deviation that is recorded, not asserted)
 *     refcount(pfn)   = mapcount + 1 if in the page cache + 1 if in the swap cache
 *                       + GUP_PIN_COUNTING_BIAS per FOLL_PIN pin
 *                       (at rest: no operation in flight holds a transient reference)
 *     count(slot)     = swap entries naming slot
 *     every RAM frame in use is mapped, cached or in the swap cache (else it leaked)
 *     refcount(device-private pfn) = device-private entries naming it (none left after exit);
 *     no present PTE ever names a device-private page (INV-M3)
 *
 * and for a compound folio (a huge page):
 *
 *     entire mapcount = huge PMD/PUD entries mapping it
 *     each page's own mapcount = PTEs mapping that page
 *     refcount        = entire mapcount + all those PTEs + 1 if in the swap cache
 *
 * Only meaningful between operations (at the end of a run, or in a test between steps).
 */
import { PAGE_SIZE, PMD_SIZE, PUD_SIZE } from './constants.ts';
import { CHUNK } from './frame-store.ts';
import { FOLIO_HUGETLB } from './compound-frames.ts';
import { PG_ANON, PG_LRU, PG_SWAPCACHE, PG_ZERO } from './frame-flags.ts';
import { GUP_PIN_COUNTING_BIAS } from './frames.ts';
import type { MemorySystem } from './memory.ts';
import { memoryOf } from './memory.ts';
import {
  KIND_MASK_ANY,
  PTE_KIND_BITS,
  PTE_KIND_DEVICE_EXCLUSIVE,
  PTE_KIND_DEVICE_PRIVATE,
  PTE_KIND_MIGRATION,
  PTE_KIND_PRESENT,
  PTE_KIND_SWAP,
  PTE_SPECIAL,
  describePte,
  ptePfn,
} from './pte.ts';
import type { Mm } from './mm-struct.ts';
import { RunEnd, type World } from '../sim/world.js';
import { contractOf } from '../locking/version.js';

/** Finding kind for a failed consistency check. */
export const MM_INCONSISTENT = 'mm-inconsistent';
/** Finding kind for pages still allocated after every address space is gone. */
export const MM_LEAK = 'mm-leak';

/** Every inconsistency found, one line each (empty when all is well). */
export function mm_consistency(sys: MemorySystem): string[] {
  const f = sys.frames;
  const out: string[] = [];
  const maps = new Map<number, number>();
  const swaps = new Map<number, number>();
  /** Device-exclusive entries per pfn: v5.14–v6.14 leaves them out of the mapcount (a known deviation). */
  const exclusive = new Map<number, number>();
  const uncounted = contractOf(sys.world).deviceExclusiveApi === 'range';
  const entire = new Map<number, number>();
  const ptesByHead = new Map<number, number>();
  for (const mm of sys.mms) {
    if (mm.dead) continue;
    const pt = mm.pt;
    for (let b = pt.nextHuge(0, 2 ** 48); b >= 0; ) {
      const pud = pt.getPud(b);
      const val = pud !== 0 ? pud : pt.getPmd(b);
      const size = pud !== 0 ? PUD_SIZE : PMD_SIZE;
      const where = `${mm.name}:0x${b.toString(16)} (huge ${describePte(val)})`;
      const v = mm.vmas.find(b);
      if (v === undefined || v.end < b + size) out.push(`${where}: huge entry not inside one VMA`);
      if (((val & PTE_KIND_BITS) === PTE_KIND_PRESENT && (val & PTE_SPECIAL) === 0) || (val & PTE_KIND_BITS) === PTE_KIND_DEVICE_PRIVATE) {
        const pfn = ptePfn(val);
        if (f.isFree(pfn)) out.push(`${where}: maps a free frame`);
        else if (f.folioHead(pfn) !== pfn || f.folioNrPages(pfn) * PAGE_SIZE !== size) out.push(`${where}: does not map a whole folio of its size`);
        entire.set(pfn, (entire.get(pfn) ?? 0) + 1);
      }
      b = b + size < 2 ** 48 ? pt.nextHuge(b + size, 2 ** 48) : -1;
    }
    for (let a = pt.nextEntry(0, 2 ** 48, KIND_MASK_ANY); a >= 0; a = pt.nextEntry(a + PAGE_SIZE, 2 ** 48, KIND_MASK_ANY)) {
      const pte = pt.get(a);
      const kind = pte & PTE_KIND_BITS;
      const where = `${mm.name}:0x${a.toString(16)} (${describePte(pte)})`;
      if (mm.vmas.find(a) === undefined) out.push(`${where}: entry outside every VMA`);
      if (kind === PTE_KIND_SWAP) {
        const slot = ptePfn(pte);
        if (sys.swap.isFree(slot)) out.push(`${where}: names a free swap slot`);
        swaps.set(slot, (swaps.get(slot) ?? 0) + 1);
        continue;
      }
      if (kind === PTE_KIND_PRESENT && f.isDevicePrivate(ptePfn(pte))) out.push(`${where}: the CPU maps a device-private page (INV-M3)`);
      if (kind === PTE_KIND_DEVICE_PRIVATE && !f.isDevicePrivate(ptePfn(pte))) out.push(`${where}: a device-private entry names a page that is not device-private`);
      const counted = (kind === PTE_KIND_PRESENT && (pte & PTE_SPECIAL) === 0) || kind === PTE_KIND_DEVICE_PRIVATE || kind === PTE_KIND_DEVICE_EXCLUSIVE;
      if (!counted) continue;
      const pfn = ptePfn(pte);
      if (f.isFree(pfn)) out.push(`${where}: maps a free frame`);
      maps.set(pfn, (maps.get(pfn) ?? 0) + 1);
      if (kind === PTE_KIND_DEVICE_EXCLUSIVE) exclusive.set(pfn, (exclusive.get(pfn) ?? 0) + 1);
      if (f.isCompound(pfn)) ptesByHead.set(f.folioHead(pfn), (ptesByHead.get(f.folioHead(pfn)) ?? 0) + 1);
    }
  }
  for (let pfn = 1; pfn < f.capacity; pfn++) {
    if (f.isCompound(pfn)) {
      pfn = checkFolio(sys, pfn, maps, uncounted ? exclusive : null, entire.get(pfn) ?? 0, ptesByHead.get(pfn) ?? 0, out);
      continue;
    }
    if (f.isFree(pfn)) continue;
    // Device memory (private or coherent) belongs to its device: never on the LRU.
    if (f.isZoneDevice(pfn) && f.testFlags(pfn, PG_LRU)) out.push(`${f.describe(pfn)}: device page on the LRU`);
    const m = maps.get(pfn) ?? 0;
    const cached = f.owner(pfn) >= 0 && !f.testFlags(pfn, PG_ANON) && sys.cache.lookup(f.owner(pfn), f.index(pfn)) === pfn ? 1 : 0;
    const swapCached = f.testFlags(pfn, PG_SWAPCACHE) ? 1 : 0;
    const expected = uncounted ? m - (exclusive.get(pfn) ?? 0) : m;
    if (f.mapcount(pfn) !== expected) {
      out.push(`${f.describe(pfn)}: mapcount ${f.mapcount(pfn)} but ${m} page-table entries map it${uncounted && expected !== m ? ` (${m - expected} of them device-exclusive, which this kernel leaves out)` : ''}`);
    }
    // FOLL_PIN pins are references too, GUP_PIN_COUNTING_BIAS each.
    const pinRefs = Math.floor(f.refcount(pfn) / GUP_PIN_COUNTING_BIAS) * GUP_PIN_COUNTING_BIAS;
    if (!f.isDevicePrivate(pfn) && f.refcount(pfn) !== m + cached + swapCached + pinRefs) {
      out.push(`${f.describe(pfn)}: refcount ${f.refcount(pfn)} but ${m} mappings + ${cached} page cache + ${swapCached} swap cache${pinRefs > 0 ? ` + ${pinRefs / GUP_PIN_COUNTING_BIAS} pin(s)` : ''}`);
    }
    if (!f.isDevicePrivate(pfn) && m + cached + swapCached + pinRefs === 0) out.push(`${f.describe(pfn)}: allocated but unreachable (leaked)`);
    // A device-private page in use belongs to the entries that map it (the driver got it back
    // through page_free when the last one went); an unmapped one in use leaked.
    if (f.isDevicePrivate(pfn) && f.refcount(pfn) !== m) {
      out.push(`${f.describe(pfn)}: device-private page with refcount ${f.refcount(pfn)} but ${m} device-private entries map it`);
    }
  }
  for (const [slot, n] of swaps) {
    if (sys.swap.count(slot) !== n) out.push(`swap slot ${slot}: count ${sys.swap.count(slot)} but ${n} swap entries`);
  }
  return out;
}

/**
 * INV-MAPCOUNT's known deviation of v5.14–v6.14, recorded rather than asserted: one line per
 * folio whose mapcount leaves out device-exclusive entries that map it (empty under other kernels).
 */
export function mm_mapcount_deviations(sys: MemorySystem): string[] {
  if (contractOf(sys.world).deviceExclusiveApi !== 'range') return [];
  const counts = new Map<number, number>();
  for (const mm of sys.mms) {
    if (mm.dead) continue;
    const pt = mm.pt;
    for (let a = pt.nextEntry(0, 2 ** 48, KIND_MASK_ANY); a >= 0; a = pt.nextEntry(a + PAGE_SIZE, 2 ** 48, KIND_MASK_ANY)) {
      const pte = pt.get(a);
      if ((pte & PTE_KIND_BITS) === PTE_KIND_DEVICE_EXCLUSIVE) counts.set(ptePfn(pte), (counts.get(ptePfn(pte)) ?? 0) + 1);
    }
  }
  const out: string[] = [];
  for (const [pfn, n] of counts) out.push(`INV-MAPCOUNT deviation (v5.14–v6.14): pfn ${pfn} has mapcount ${sys.frames.mapcount(pfn)}, leaving out ${n} device-exclusive entr${n === 1 ? 'y' : 'ies'}`);
  return out;
}

/**
 * Checks the compound folio whose chunk starts at `first` (see the module comment); @returns the
 * last pfn of its chunks, where the caller's scan continues.
 */
function checkFolio(
  sys: MemorySystem,
  first: number,
  maps: Map<number, number>,
  /** Device-exclusive entries per page, where this kernel leaves them out of the mapcount (v5.14–v6.14). */
  uncountedExclusive: Map<number, number> | null,
  entire: number,
  ptesSeen: number,
  out: string[],
): number {
  const f = sys.frames;
  const head = f.folioHead(first);
  const nr = f.folioNrPages(head);
  const last = head + Math.max(nr, CHUNK) - 1;
  if (f.isFree(head) || f.testFlags(head, PG_ZERO)) return last;
  let ptes = 0;
  // Page by page only where some PTE maps the folio (a PMD- or PUD-mapped one has none).
  if (ptesSeen !== 0 || f.pteMapcountTotal(head) !== 0) for (let p = head; p < head + nr; p++) {
    const m = maps.get(p) ?? 0;
    ptes += m;
    const expected = m - (uncountedExclusive?.get(p) ?? 0);
    if (f.mapcount(p) - f.entireMapcount(head) !== expected) {
      out.push(`${f.describe(p)}: page mapcount ${f.mapcount(p) - f.entireMapcount(head)} but ${m} PTEs map it${expected !== m ? ` (${m - expected} of them device-exclusive, which this kernel leaves out)` : ''}`);
    }
  }
  if (f.entireMapcount(head) !== entire) out.push(`${f.describe(head)}: entire mapcount ${f.entireMapcount(head)} but ${entire} huge entries map it`);
  const swapCached = f.testFlags(head, PG_SWAPCACHE) ? 1 : 0;
  const hugetlbPool = f.testFlags(head, FOLIO_HUGETLB) ? 1 : 0;
  if (f.refcount(head) !== entire + ptes + swapCached + hugetlbPool) {
    out.push(`${f.describe(head)}: refcount ${f.refcount(head)} but ${entire} huge + ${ptes} PTE mappings + ${swapCached} swap cache`);
  }
  if (entire + ptes + swapCached + hugetlbPool === 0) out.push(`${f.describe(head)}: allocated but unreachable (leaked)`);
  return last;
}

/** RAM frames still in use outside the page cache (after every mm exited, this should be 0). */
export function mm_leaked_frames(sys: MemorySystem): number {
  let n = sys.frames.ramInUse;
  n -= sys.cache.totalCached;
  n -= sys.hugetlb.pages; // the hugetlb pool keeps its pages
  return n;
}

/**
 * End-of-run check for scenarios: reports every inconsistency as `mm-inconsistent`, and, if
 * every address space has exited, anonymous or swap-cache pages still allocated as `mm-leak`.
 * Runs stopped early (a deadlock) are skipped: operations were left half done.
 */
export function mm_check(world: World): void {
  const sys = memoryOf(world);
  // A run stopped by a fatal finding (a deadlock) ends mid-operation: nothing is at rest.
  if (sys === undefined || world.end !== RunEnd.Completed) return;
  for (const line of mm_mapcount_deviations(sys)) world.trace?.note(line);
  for (const line of mm_consistency(sys)) world.report(MM_INCONSISTENT, line, line.replace(/0x[0-9a-f]+|pfn:\d+.*$/g, ''));
  if (sys.mms.length === 0 && mm_leaked_frames(sys) !== 0) {
    world.report(MM_LEAK, `${mm_leaked_frames(sys)} page(s) still allocated after every address space exited`, 'mm-leak');
  }
  if (sys.mms.length === 0 && sys.frames.deviceInUse !== 0) {
    world.report(MM_LEAK, `${sys.frames.deviceInUse} device-private page(s) still in use after every address space exited`, 'mm-leak:device');
  }
}

/**
 * What a load at `addr` (4-aligned) would return, found without faulting, allocating or taking
 * a lock: from the mapped frame (device-private and migrating pages included), the swap cache or slot, the page cache or backing store, or
 * zero for an untouched anonymous page. For oracles comparing memory with a reference model.
 * @returns the word, or null if no VMA covers `addr` or its file page lies past end of file.
 */
export function peek32(mm: Mm, addr: number): number | null {
  const sys = mm.sys;
  const page = addr - (addr % PAGE_SIZE);
  const off = addr - page;
  const vma = mm.vmas.find(page);
  if (vma === undefined) return null;
  const pte = mm.pt.get(page);
  const kind = pte & PTE_KIND_BITS;
  // A device-private page, a page under migration and a device-exclusive entry's page hold the
  // data as well as a mapped one (an exclusive entry's is what a CPU access would restore).
  if (kind === PTE_KIND_PRESENT || kind === PTE_KIND_DEVICE_PRIVATE || kind === PTE_KIND_MIGRATION || kind === PTE_KIND_DEVICE_EXCLUSIVE) return sys.frames.read32(ptePfn(pte), off);
  if (kind === PTE_KIND_SWAP) {
    const slot = ptePfn(pte);
    const cached = sys.swap.lookupCache(slot);
    return cached >= 0 ? sys.frames.read32(cached, off) : sys.swap.read32(slot, off);
  }
  if (vma.isAnon) return 0;
  const pgoff = vma.pgoffAt(page);
  if (pgoff >= sys.cache.filePages(vma.file)) return null;
  const cached = sys.cache.lookup(vma.file, pgoff);
  if (cached >= 0) return sys.frames.read32(cached, off);
  return sys.cache.readBacking32(vma.file, pgoff * PAGE_SIZE + off);
}
