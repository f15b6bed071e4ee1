/**
 * Benchmark: memory and speed of the mm data structures at scale.
 *
 * Workload: one 4 GiB anonymous VMA fully faulted in, i.e. 1,048,576 pages, each
 * with a frame (alloc, owner/index, mapcount) and a present, writable, dirty,
 * young PTE; no page is written, so no page has contents. Reported:
 * - bytes per mapped page of page-table entries plus frame metadata, twice:
 *   as accounted from the typed arrays' byte lengths, and as measured by
 *   process.memoryUsage() (heapUsed + arrayBuffers, after forced GCs) around
 *   the fault-in (goal: at most 32, contents excluded);
 * - fault-in, lookup, full-range nextPresent walk, and zap (clear + put +
 *   freeEmptyTables) rates.
 *
 * Run: `npx tsx bench/mm-structures.ts`. `main()` is exported for bench/run.ts.
 * Timing uses performance.now(): the bench is outside the model.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { PAGE_SIZE } from '../src/mm/constants.ts';
import { FrameTable, PG_ANON, PG_SWAPBACKED, PG_UPTODATE } from '../src/mm/frames.ts';
import { PageTable } from '../src/mm/page-table.ts';
import { PTE_DIRTY, PTE_WRITE, PTE_YOUNG, pfnPte, ptePfn } from '../src/mm/pte.ts';
import { VmaSet } from '../src/mm/vma.ts';
import { VM_MAYREAD, VM_MAYWRITE, VM_READ, VM_WRITE } from '../src/mm/vma-flags.ts';
import { gcFunction, used } from './heap.ts';

/** The figures this benchmark reports. */
export interface MmStructuresResult {
  pages: number;
  /** Typed-array bytes (page-table entries + frame metadata) per mapped page. */
  accountedBytesPerPage: number;
  /** process.memoryUsage() growth (heapUsed + arrayBuffers) per mapped page. */
  measuredBytesPerPage: number;
  faultInPagesPerSec: number;
  lookupsPerSec: number;
  walkPagesPerSec: number;
  zapPagesPerSec: number;
}

/** Run the benchmark. @param pages number of 4 KiB pages to fault in (default 2^20 = 4 GiB). */
export function main(pages = 1 << 20, print = true): MmStructuresResult {
  const gc = gcFunction();
  const start = 0x7f0000000000;
  const end = start + pages * PAGE_SIZE;

  const before = used(gc);
  const frames = new FrameTable();
  const pt = new PageTable();
  const vmas = new VmaSet();
  const vma = vmas.insert({ start, end, flags: VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE, anonVma: 1 });

  let t = performance.now();
  const flags = PTE_WRITE | PTE_DIRTY | PTE_YOUNG;
  for (let addr = start; addr < end; addr += PAGE_SIZE) {
    const pfn = frames.alloc(PG_ANON | PG_SWAPBACKED | PG_UPTODATE);
    frames.setOwner(pfn, vma.anonVma, vma.pgoffAt(addr));
    frames.incMapcount(pfn);
    pt.set(addr, pfnPte(pfn, flags));
  }
  const faultMs = performance.now() - t;
  const after = used(gc);
  const accounted = frames.metadataBytes() + pt.bytes();

  // Lookups at pseudo-random pages (an LCG over the page index; no allocation).
  const lookups = 2_000_000;
  let x = 12345;
  let sink = 0;
  t = performance.now();
  for (let i = 0; i < lookups; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    sink += ptePfn(pt.get(start + (x % pages) * PAGE_SIZE));
  }
  const lookupMs = performance.now() - t;

  t = performance.now();
  let walked = 0;
  for (let a = pt.nextPresent(0, 2 ** 48); a >= 0; a = pt.nextPresent(a + PAGE_SIZE, 2 ** 48)) walked++;
  const walkMs = performance.now() - t;
  if (walked !== pages) throw new Error(`walk found ${String(walked)} pages, expected ${String(pages)}`);

  t = performance.now();
  for (let a = pt.nextPresent(start, end); a >= 0; a = pt.nextPresent(a + PAGE_SIZE, end)) {
    const pfn = ptePfn(pt.clear(a));
    frames.decMapcount(pfn);
    frames.put(pfn);
  }
  pt.freeEmptyTables(0, 2 ** 48);
  const zapMs = performance.now() - t;
  if (frames.ramInUse !== 0 || pt.leafCount !== 0 || frames.problems.length !== 0) throw new Error('zap left state behind');

  const result: MmStructuresResult = {
    pages,
    accountedBytesPerPage: accounted / pages,
    measuredBytesPerPage: (after - before) / pages,
    faultInPagesPerSec: pages / (faultMs / 1000),
    lookupsPerSec: lookups / (lookupMs / 1000),
    walkPagesPerSec: pages / (walkMs / 1000),
    zapPagesPerSec: pages / (zapMs / 1000),
  };
  if (print) {
    const n = (v: number): string => Math.round(v).toLocaleString('en-US');
    console.log(`mm structures: ${n(pages)} pages (${String((pages * PAGE_SIZE) / 2 ** 30)} GiB anon) faulted in, no contents (checksum ${String(sink % 7)})`);
    console.log(`bytes/page, typed arrays (PTEs + frame metadata): ${result.accountedBytesPerPage.toFixed(2)} (goal <= 32)`);
    console.log(`bytes/page, measured heapUsed+arrayBuffers:       ${result.measuredBytesPerPage.toFixed(2)} (goal <= 32)`);
    console.log(`fault-in (alloc+owner+map+set)  ${n(result.faultInPagesPerSec).padStart(14)} pages/s`);
    console.log(`random lookup (get)             ${n(result.lookupsPerSec).padStart(14)} ops/s`);
    console.log(`nextPresent walk                ${n(result.walkPagesPerSec).padStart(14)} pages/s`);
    console.log(`zap (clear+unmap+put, free)     ${n(result.zapPagesPerSec).padStart(14)} pages/s`);
  }
  return result;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main();
}
