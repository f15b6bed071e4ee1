/**
 * dmirror, the reference mirror device (the kernel's lib/test_hmm.c, modelled from dmirror.md):
 * load the module, open a device from a task's address space, issue commands, close.
 *
 *     const mod = dmirror_module_init(world);
 *     const fd = yield* dmirror_fops_open(mod, 0, mm);          // a Dmirror, or -ENODEV
 *     const cmd = { addr, ptr: buf, npages, cpages: 0, faults: 0 };
 *     const r = yield* dmirror_fops_unlocked_ioctl(fd, HMM_DMIRROR_READ, cmd);
 *     const p = yield* sys_mmap(mm, 0, len, prot, MAP_PRIVATE, fd.file, 0);  // dmirror_fops_mmap
 *     yield* dmirror_fops_release(fd);
 */
export * from './uapi.ts';
export { ENODEV } from './errno.ts';
export {
  DmirrorDevice,
  DmirrorModule,
  dmirror_module_init,
  dmirror_fops_open,
  dmirror_fops_release,
  dmirror_device_remove_chunks,
  type DmirrorVariant,
  type DmirrorModuleOptions,
} from './device.ts';
export { Dmirror } from './mirror.ts';
export { DevicePageTable, DPT_READ, DPT_WRITE, DPT_ATOMIC, type DptEntry } from './device-pt.ts';
export { DevmemPool, DevmemChunk, DEVMEM_CHUNK_PAGES, DEVMEM_CHUNKS_RESERVE } from './pool.ts';
export { dmirror_fops_unlocked_ioctl } from './ioctl.ts';
export { dmirror_fops_mmap } from './mmap.ts';
