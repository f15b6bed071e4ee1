/**
 * The hmm layer's public API (src/index.ts re-exports it): hmm_range_fault and its pfn words,
 * migrate_vma and migrate_device with theirs, and the device-private memory a driver registers
 * (which lives in the mm layer, re-exported here so a driver imports one place).
 */
export {
  HMM_PFN_VALID,
  HMM_PFN_WRITE,
  HMM_PFN_ERROR,
  HMM_PFN_DMA_MAPPED,
  HMM_PFN_P2PDMA,
  HMM_PFN_P2PDMA_BUS,
  HMM_PFN_ORDER_SHIFT,
  HMM_PFN_INOUT_FLAGS,
  HMM_PFN_STICKY,
  HMM_PFN_FLAGS,
  HMM_PFN_REQ_FAULT,
  HMM_PFN_REQ_WRITE,
  hmm_pfn_to_page,
  hmm_pfn_to_pfn,
  hmm_pfn_to_map_order,
  hmm_pfn_encode,
  hmm_pfn_decode,
  type HmmPfnFields,
} from './hmm-pfn.ts';
export { HmmRange } from './range.ts';
export { hmm_range_fault } from './hmm-range-fault.ts';
export {
  MIGRATE_PFN_VALID,
  MIGRATE_PFN_MIGRATE,
  MIGRATE_PFN_WRITE,
  MIGRATE_PFN_SHIFT,
  MIGRATE_PFN_COMPOUND,
  MIGRATE_VMA_SELECT_COMPOUND,
  MIGRATE_VMA_SELECT_SYSTEM,
  MIGRATE_VMA_SELECT_DEVICE_PRIVATE,
  MIGRATE_VMA_SELECT_DEVICE_COHERENT,
  migrate_pfn,
  migrate_pfn_to_page,
  type MigratePfnArray,
} from './migrate-pfn.ts';
export { MigrateVma, migrate_vma_setup, migrate_vma_pages, migrate_vma_finalize, find_vma } from './migrate-vma.ts';
export { migrate_device_range, migrate_device_pfns, migrate_device_pages, migrate_device_finalize, migrate_device_coherent_page } from './migrate-device.ts';
export { DEVICE_MAPS_MIGRATED_PAGE } from './migrate-oracle.ts';
export {
  DevPagemap,
  memremap_pages,
  zone_device_page_init,
  page_pgmap,
  is_device_private_page,
  is_device_coherent_page,
  is_zone_device_page,
  MEMORY_DEVICE_PRIVATE,
  MEMORY_DEVICE_COHERENT,
  FAULT_FLAG_WRITE,
  FAULT_FLAG_REMOTE,
  VM_FAULT_SIGBUS,
  type DevPagemapOps,
  type VmFault,
} from '../mm/device-private.ts';
export { copy_highpage, clear_highpage, alloc_page_vma } from '../mm/page-copy.ts';
