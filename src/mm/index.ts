/**
 * The mm layer's public API: what scenarios and driver models call. src/index.ts re-exports it.
 *
 * Address spaces and memory: mm_create, memory_system, mmget/mmput/mmgrab/mmdrop.
 * Syscalls (generators, negative errno on failure): sys_mmap, sys_munmap, sys_mprotect,
 * sys_madvise, sys_mremap, sys_fork, sys_exit. Huge pages: the THP mode (memory option `thp`, or
 * setDefaultThpMode), MADV_HUGEPAGE/NOHUGEPAGE/COLLAPSE, khugepaged_scan_mm, MAP_HUGETLB with the
 * hugetlb pool (memory options `hugetlbPages`, `hugetlbGiganticPages`). CPU accesses: read32, write32.
 * Files: file_create, sys_pwrite32, sys_pread32, drop_caches.
 * Kernel-internal entry points drivers need: handle_mm_fault, fault_in, populateRange,
 * try_to_free_pages, out_of_memory, pin_user_page, unpin_user_page, dma_read32, dma_write32.
 * (The hmm layer's fault hook, setSpecialFaultHandler, is internal: hmm installs it itself.)
 * The folio lock: folio_trylock, folio_lock, folio_unlock,
 * folio_wait_locked, folio_test_locked. Oracles: mm_check, mm_consistency, peek32.
 */
export { Mm, mm_create, memory_system, mmget, mmget_not_zero, mmgrab, mmdrop, type MmOptions } from './mm-struct.ts';
export { MemorySystem, memoryOf, BAD_PAGE_STATE, BAD_SWAP_ENTRY, PAGE_USE_AFTER_FREE, type MemoryOptions } from './memory.ts';
export {
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  PROT_EXEC,
  MAP_SHARED,
  MAP_PRIVATE,
  MAP_FIXED,
  MAP_ANONYMOUS,
  MAP_POPULATE,
  MAP_FIXED_NOREPLACE,
} from './vma-ops.ts';
export { sys_mmap, sys_munmap } from './mmap.ts';
export { sys_mprotect } from './mprotect.ts';
export { sys_madvise, MADV_DONTNEED, MADV_FREE, MADV_POPULATE_READ, MADV_POPULATE_WRITE, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_COLLAPSE } from './madvise.ts';
export { setDefaultThpMode, defaultThpMode, thpStats, leafOrder, type ThpMode, type ThpStats } from './huge-memory.ts';
export { khugepaged_scan_mm } from './khugepaged.ts';
export { MAP_HUGETLB, MAP_NORESERVE, MAP_HUGE_SHIFT, MAP_HUGE_2MB, MAP_HUGE_1GB } from './hugetlb.ts';
export { sys_mremap, MREMAP_MAYMOVE, MREMAP_FIXED } from './mremap.ts';
export { sys_fork } from './fork.ts';
export { sys_exit, mmput, exit_mmap } from './exit.ts';
export { read32, write32 } from './cpu-access.ts';
export { file_create, sys_pwrite32, sys_pread32, drop_caches } from './files.ts';
export { handle_mm_fault, fault_in } from './fault.ts';
export { folio_trylock, folio_lock, folio_unlock, folio_wait_locked, folio_test_locked, FOLIO_LOCK_MAP } from './folio-lock.ts';
export { populateRange } from './populate.ts';
export { alloc_user_page, try_to_free_pages } from './reclaim.ts';
export { out_of_memory, MAX_OOM_REAP_RETRIES, OOM_REAP_RETRY_TICKS } from './oom.ts';
export { pin_user_page, unpin_user_page, dma_read32, dma_write32 } from './dma.ts';
export { FOLL_WRITE, FOLL_LONGTERM } from './gup-longterm.ts';
export { mm_check, mm_consistency, peek32, MM_INCONSISTENT, MM_LEAK } from './check.ts';
export { EBADF, EACCES } from './mm-errno.ts';
export { PAGE_SIZE } from './constants.ts';
