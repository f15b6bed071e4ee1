/**
 * The mmap/mprotect vocabulary (PROT_*, MAP_*) and the VMA helpers the syscalls share: turning
 * protections into VM_* flags, the fault-time access check, and inserting a VMA whose page
 * offset and anon object are given rather than derived.
 *
 * Why the exact insert: an anonymous page's rmap key is (anon object, linear page index), and
 * the index is fixed when the page is first mapped. When mremap moves an anonymous VMA, or fork
 * copies one that was moved before, the new VMA must keep the old page offsets or reclaim could
 * no longer find the pages it maps. VmaSet.insert gives anonymous VMAs `start / PAGE_SIZE`, so
 * the exact insert first adds the VMA with a flag no neighbour has (so nothing merges with the
 * wrong offset), then sets the real offset and flags and merges.
 */
import { GFP_KERNEL, might_alloc } from '../locking/alloc.js';
import { PTE_PROTNONE } from './pte.ts';
import { VM_EXEC, VM_IO, VM_MAYEXEC, VM_MAYREAD, VM_MAYSHARE, VM_MAYWRITE, VM_READ, VM_SHARED, VM_WRITE } from './vma-flags.ts';
import type { Vma, VmaSet } from './vma.ts';

/** No access. */
export const PROT_NONE = 0;
/** Readable. */
export const PROT_READ = 1;
/** Writable. */
export const PROT_WRITE = 2;
/** Executable. */
export const PROT_EXEC = 4;

/** Writes go to the object and are seen by every mapping of it. */
export const MAP_SHARED = 0x01;
/** Writes go to private copy-on-write pages. */
export const MAP_PRIVATE = 0x02;
/** Place the mapping exactly at `addr`, replacing what is there. */
export const MAP_FIXED = 0x10;
/** No file: zero-filled memory. */
export const MAP_ANONYMOUS = 0x20;
/** Fault the whole mapping in before returning (the bulk path the benchmark uses). */
export const MAP_POPULATE = 0x8000;
/** As MAP_FIXED, but fail with -EEXIST instead of replacing an existing mapping. */
export const MAP_FIXED_NOREPLACE = 0x100000;

/** VM_READ/WRITE/EXEC for a PROT_* mask. */
export function protToVmFlags(prot: number): number {
  return (prot & PROT_READ ? VM_READ : 0) | (prot & PROT_WRITE ? VM_WRITE : 0) | (prot & PROT_EXEC ? VM_EXEC : 0);
}

/** The VM_* flags mmap gives a new mapping (files are modelled as opened read-write). */
export function mmapVmFlags(prot: number, mapFlags: number): number {
  let f = protToVmFlags(prot) | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC;
  if (mapFlags & MAP_SHARED) f |= VM_SHARED | VM_MAYSHARE;
  return f;
}

/** True if the VMA allows no access at all (its present PTEs are PROT_NONE). */
export function vmaNoAccess(vma: Vma): boolean {
  return (vma.flags & (VM_READ | VM_WRITE | VM_EXEC)) === 0;
}

/** PTE bits every new mapping in `vma` carries: PROT_NONE VMAs map inaccessible entries. */
export function protBits(vma: Vma): number {
  return vmaNoAccess(vma) ? PTE_PROTNONE : 0;
}

/** The fault-time check (x86's access_error): may this access proceed on `vma`? */
export function vmaAllows(vma: Vma, write: boolean): boolean {
  if (write) return (vma.flags & VM_WRITE) !== 0;
  return !vmaNoAccess(vma);
}

/** True for a private mapping whose writes make anonymous copies. */
export function vmaIsPrivate(vma: Vma): boolean {
  return (vma.flags & VM_SHARED) === 0;
}

/**
 * The allocation of a vm_area_struct (vm_area_alloc / vm_area_dup, GFP_KERNEL), made under the
 * mmap lock by mmap, mprotect's split, mremap and fork. Only the annotation: VMAs cost no frames
 * here. It records mmap_lock -> fs_reclaim (-> notifier map), the kernel's order, so a driver
 * that takes the mmap lock inside its invalidate callback closes a cycle.
 */
export function vmaAllocAnnotation(): void {
  might_alloc(GFP_KERNEL);
}

/** What `insertVmaExact` needs. */
export interface ExactVmaSpec {
  start: number;
  end: number;
  flags: number;
  /** File id, or -1 for anonymous memory. */
  file: number;
  /** Page offset of `start` (file offset, or the anon linear index to keep). */
  pgoff: number;
  /** Anon object id, or -1. */
  anonVma: number;
}

/**
 * Inserts a VMA with exactly the given page offset and anon object, then merges it with
 * compatible neighbours. @returns the VMA covering the range.
 */
export function insertVmaExact(set: VmaSet, spec: ExactVmaSpec): Vma {
  // VM_IO marks the VMA special, so the insert cannot merge it before its offset is right.
  const v = set.insert({
    start: spec.start,
    end: spec.end,
    flags: spec.flags | VM_IO,
    ...(spec.file >= 0 ? { file: spec.file, pgoff: spec.pgoff } : {}),
    anonVma: spec.anonVma,
  });
  v.flags = spec.flags;
  v.pgoff = spec.pgoff;
  return set.tryMerge(v);
}
