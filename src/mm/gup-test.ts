/**
 * The gup_test debugfs interface (mm/gup_test.c, /sys/kernel/debug/gup_test since v5.11): a
 * process asks the kernel to get or pin pages of its own address space, then to drop them.
 *
 *     open                  -ENOENT before v5.11 (the file was gup_benchmark then)
 *     ioctl(cmd, gup)       EINVAL for an unknown command or an address range that wraps;
 *       mmap read lock unless the command is a fast one (the fast walk locks by itself);
 *       in steps of nr_pages_per_call pages over [addr, addr + size):
 *         GUP_FAST_BENCHMARK      get_user_pages_fast(gup_flags)
 *         GUP_BASIC_TEST          get_user_pages(gup_flags)
 *         PIN_FAST_BENCHMARK      pin_user_pages_fast(gup_flags)
 *         PIN_BASIC_TEST          pin_user_pages(gup_flags)
 *         PIN_LONGTERM_BENCHMARK  pin_user_pages(gup_flags | FOLL_LONGTERM)
 *       stopping at a step that took fewer pages than asked (an error included: the command
 *       still succeeds, and gup.size says how far it got);
 *       verify: a pinned page that is not maybe-DMA-pinned, or a long-term pin of a page that
 *       may not be pinned long-term, is the module's WARN;
 *       drop everything (put_page, or unpin_user_pages); unlock
 *
 * Commands are numbered by their ioctl nr, as dmirror's are. DUMP_USER_PAGES_TEST and the
 * PIN_LONGTERM_TEST_* session commands are not modelled (an error says so).
 */
import { EINVAL, ENOENT } from '../locking/errno.js';
import { contractOf } from '../locking/version.js';
import { mmap_read_lock, mmap_read_unlock } from '../locking/mmap-lock.js';
import { FindingKind } from '../sim/finding.js';
import { Access } from '../sim/point.js';
import type { World } from '../sim/world.js';
import { PAGE_SIZE } from './constants.ts';
import { FOLL_LONGTERM, folio_is_longterm_pinnable, get_user_pages, get_user_pages_fast, pin_user_pages, pin_user_pages_fast, unpin_user_pages } from './gup.ts';
import type { Mm } from './mm-struct.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** ioctl nrs of the gup_test commands (`_IOWR('g', nr, struct gup_test)`). */
export const GUP_FAST_BENCHMARK = 1;
export const PIN_FAST_BENCHMARK = 2;
export const PIN_LONGTERM_BENCHMARK = 3;
export const GUP_BASIC_TEST = 4;
export const PIN_BASIC_TEST = 5;
export const DUMP_USER_PAGES_TEST = 6;

/** `struct gup_test`: in and out. */
export interface GupTest {
  /** Out: time in the get or pin calls, microseconds of virtual time. */
  get_delta_usec: number;
  /** Out: time releasing them. */
  put_delta_usec: number;
  addr: number;
  /** In: bytes; out: bytes actually covered. */
  size: number;
  nr_pages_per_call: number;
  gup_flags: number;
  test_flags: number;
}

/** An open /sys/kernel/debug/gup_test, used by a task of `mm`. */
export interface GupTestFile {
  readonly name: string;
  readonly mm: Mm;
}

/** The file the module's WARNs name. */
const WARN_KEY = 'gup_test:verify';

/**
 * `open("/sys/kernel/debug/gup_test", O_RDWR)` by a task of `mm`. @returns the file, or -ENOENT
 * under a kernel before v5.11.
 */
export function gup_test_open(mm: Mm): GupTestFile | number {
  if (!contractOf(mm.world).gupTestDebugfs) return -ENOENT;
  return { name: 'gup_test', mm };
}

function isPin(cmd: number): boolean {
  return cmd === PIN_FAST_BENCHMARK || cmd === PIN_BASIC_TEST || cmd === PIN_LONGTERM_BENCHMARK;
}

/** verify_dma_pinned: the module's WARNs. */
function verifyDmaPinned(world: World, mm: Mm, cmd: number, pages: readonly number[], n: number): void {
  if (!isPin(cmd)) return;
  const frames = mm.sys.frames;
  for (let i = 0; i < n; i++) {
    if (!frames.maybeDmaPinned(pages[i]!)) {
      world.report(FindingKind.Warn, `WARNING: gup_test: pages[${i}] (pfn ${pages[i]}) is NOT dma-pinned`, WARN_KEY);
      return;
    }
    if (cmd === PIN_LONGTERM_BENCHMARK && !folio_is_longterm_pinnable(world, pages[i]!)) {
      world.report(FindingKind.Warn, `WARNING: gup_test: pages[${i}] (pfn ${pages[i]}) is NOT pinnable but pinned`, WARN_KEY);
      return;
    }
  }
}

/** `ioctl(gup_fd, cmd, &gup)`. @returns 0 or a negative errno; on 0 `gup` holds the results. */
export function* gup_test_ioctl(file: GupTestFile, cmd: number, gup: GupTest): Gen<number> {
  const mm = file.mm;
  const world = mm.world;
  yield world.point(`gup_test ioctl ${cmd}`, file, Access.None);
  if (cmd === DUMP_USER_PAGES_TEST) throw new Error('gup_test: DUMP_USER_PAGES_TEST is not modelled');
  if (cmd < GUP_FAST_BENCHMARK || cmd > PIN_BASIC_TEST) return -EINVAL;
  const end = gup.addr + gup.size;
  if (!Number.isSafeInteger(gup.addr) || gup.addr < 0 || !Number.isSafeInteger(end) || end >= 2 ** 64) return -EINVAL;
  const needsMmapLock = cmd !== GUP_FAST_BENCHMARK && cmd !== PIN_FAST_BENCHMARK;
  const pages: number[] = [];
  if (needsMmapLock) yield* mmap_read_lock(mm);
  const t0 = world.now;
  let i = 0;
  let nr = gup.nr_pages_per_call;
  let addr = gup.addr;
  let next: number;
  for (; addr < end; addr = next) {
    if (nr !== gup.nr_pages_per_call) break;
    next = addr + nr * PAGE_SIZE;
    if (next > end) {
      next = end;
      nr = (next - addr) / PAGE_SIZE;
    }
    const step: number[] = [];
    switch (cmd) {
      case GUP_FAST_BENCHMARK:
        nr = yield* get_user_pages_fast(mm, addr, nr, gup.gup_flags, step);
        break;
      case GUP_BASIC_TEST:
        nr = yield* get_user_pages(mm, addr, nr, gup.gup_flags, step);
        break;
      case PIN_FAST_BENCHMARK:
        nr = yield* pin_user_pages_fast(mm, addr, nr, gup.gup_flags, step);
        break;
      case PIN_BASIC_TEST:
        nr = yield* pin_user_pages(mm, addr, nr, gup.gup_flags, step);
        break;
      default:
        nr = yield* pin_user_pages(mm, addr, nr, gup.gup_flags | FOLL_LONGTERM, step);
    }
    if (nr <= 0) break;
    for (let k = 0; k < nr; k++) pages.push(step[k]!);
    i += nr;
  }
  gup.get_delta_usec = (world.now - t0) * 1000;
  gup.size = addr - gup.addr;
  verifyDmaPinned(world, mm, cmd, pages, i);
  const t1 = world.now;
  if (isPin(cmd)) unpin_user_pages(world, pages, i);
  else for (let k = 0; k < i; k++) mm.sys.putPage(pages[k]!);
  gup.put_delta_usec = (world.now - t1) * 1000;
  if (needsMmapLock) yield* mmap_read_unlock(mm);
  return 0;
}
