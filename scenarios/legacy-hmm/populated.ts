/** A helper of the legacy-HMM scenarios: an anonymous mapping whose pages the CPU has written. */
import { MAP_ANONYMOUS, MAP_PRIVATE, PAGE_SIZE, PROT_READ, PROT_WRITE, sys_mmap, write32, type Mm } from '../../src/mm/index.ts';

/** Maps `pages` anonymous pages and writes each, so the CPU maps real frames; returns the address. */
export function* populated(mm: Mm, pages: number): Generator<unknown, number, unknown> {
  const addr = yield* sys_mmap(mm, 0, pages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
  if (addr < 0) throw new Error(`mmap failed: ${addr}`);
  for (let i = 0; i < pages; i++) yield* write32(mm, addr + i * PAGE_SIZE, i + 1);
  return addr;
}
