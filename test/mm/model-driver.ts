/**
 * The model-based test driver: applies one command to the real mm layer (inside a task) and to
 * the reference model, and checks that they agree.
 *
 * Each process also has a mirroring "device": an interval notifier over the whole address space
 * whose callback drops the device's copy of the range, and a device shadow re-synced with the
 * CPU after every command. So during the next command, a PTE change that no invalidation covers
 * is reported by the coherence oracle (stale-device-mapping), and freeing a page before its
 * invalidation ran is reported as device-maps-freed-page. The callback also logs every
 * invalidation, which the property checks against what the command should raise.
 *
 * The device's memory is device-private, or (gpuMemory) device-coherent: then the CPU reads and
 * writes migrated pages in place, fork shares them copy-on-write, and a long-term pin moves one
 * back to system memory before pinning.
 */
import { GFP_KERNEL } from '../../src/locking/alloc.js';
import { TASK_SIZE, PAGE_SIZE } from '../../src/mm/constants.ts';
import { mm_consistency, peek32 } from '../../src/mm/check.ts';
import { read32, write32 } from '../../src/mm/cpu-access.ts';
import { sys_exit } from '../../src/mm/exit.ts';
import { sys_pread32, sys_pwrite32 } from '../../src/mm/files.ts';
import { sys_fork } from '../../src/mm/fork.ts';
import { MADV_COLLAPSE, MADV_DONTNEED, MADV_FREE, MADV_HUGEPAGE, MADV_NOHUGEPAGE, sys_madvise } from '../../src/mm/madvise.ts';
import { khugepaged_scan_mm } from '../../src/mm/khugepaged.ts';
import { MAP_HUGETLB } from '../../src/mm/hugetlb.ts';
import { memory_system, type Mm } from '../../src/mm/mm-struct.ts';
import type { MemorySystem } from '../../src/mm/memory.ts';
import { sys_mmap, sys_munmap } from '../../src/mm/mmap.ts';
import { sys_mprotect } from '../../src/mm/mprotect.ts';
import { MREMAP_MAYMOVE, sys_mremap } from '../../src/mm/mremap.ts';
import { try_to_free_pages } from '../../src/mm/reclaim.ts';
import { MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, MAP_SHARED } from '../../src/mm/vma-ops.ts';
import { device_map, device_shadow_create, device_unmap_range, type DeviceShadow } from '../../src/notifier/coherence.js';
import { MmuIntervalNotifier, mmu_interval_check_retry, mmu_interval_notifier_insert, mmu_interval_notifier_remove, mmu_interval_read_begin, mmu_interval_set_seq } from '../../src/notifier/interval.js';
import type { World } from '../../src/sim/world.js';
import { EOPNOTSUPP } from '../../src/locking/errno.js';
import { mmap_read_lock, mmap_read_unlock } from '../../src/locking/mmap-lock.js';
import { contractOf } from '../../src/locking/version.js';
import { pin_user_page, unpin_user_page } from '../../src/mm/dma.ts';
import { FOLL_LONGTERM } from '../../src/mm/gup-longterm.ts';
import { MEMORY_DEVICE_PRIVATE } from '../../src/mm/device-private.ts';
import { folio_unlock } from '../../src/mm/folio-lock.ts';
import { make_device_exclusive, make_device_exclusive_range } from '../../src/hmm/device-exclusive.ts';
import { device_atomic_create, device_atomic_map, device_atomic_unmap_range, type DeviceAtomicMap } from '../../src/hmm/device-exclusive-oracle.ts';
import { RefFile, RefProc, type Expect } from './ref-model.ts';
import { HmmMirror } from '../../src/devices/hmm-mirror.ts';
import { HmmRange } from '../../src/hmm/range.ts';
import { hmm_range_fault } from '../../src/hmm/hmm-range-fault.ts';
import { HMM_PFN_ERROR, HMM_PFN_VALID, HMM_PFN_WRITE, hmm_pfn_to_page } from '../../src/hmm/hmm-pfn.ts';
import { EBUSY } from '../../src/locking/errno.js';

type Gen<T> = Generator<unknown, T, unknown>;

/** The commands (selectors `sel` pick among candidate addresses, modulo their number). */
export type Cmd =
  | { op: 'mmap'; proc: number; kind: number; pages: number; prot: number; file: number; fileOff: number; fixed: boolean; sel: number }
  | { op: 'munmap' | 'dontneed' | 'free'; proc: number; sel: number; pages: number }
  | { op: 'mprotect'; proc: number; sel: number; pages: number; prot: number }
  | { op: 'mremap'; proc: number; sel: number; pages: number; newPages: number }
  | { op: 'fork' | 'exit'; proc: number }
  | { op: 'read'; proc: number; sel: number; word: number }
  | { op: 'write'; proc: number; sel: number; word: number; value: number }
  | { op: 'pwrite'; file: number; page: number; word: number; value: number }
  | { op: 'pread'; file: number; page: number; word: number }
  | { op: 'reclaim'; n: number }
  | { op: 'excl'; proc: number; sel: number }
  | { op: 'pin'; proc: number; sel: number; longterm?: boolean }
  | { op: 'unpin' }
  | { op: 'mmapHuge'; proc: number; n: number }
  | { op: 'hugepage'; proc: number; sel: number; pages: number; on: boolean }
  | { op: 'collapse' | 'khugepaged'; proc: number; sel: number }
  | { op: 'mmapHugetlb'; proc: number; n: number }
  | { op: 'hugetlbOp'; what: 'munmap' | 'mprotect' | 'dontneed'; proc: number; sel: number; prot: number }
  | { op: 'todevice' | 'toram' | 'snapshot'; proc: number; sel: number; pages: number }
  | { op: 'migrateHuge'; proc: number; sel: number; toDevice: boolean };

/** Bytes of a PMD-mapped huge page. */
const HPAGE = 2 * 1024 * 1024;

/** Word indices the commands touch (first, second, last of a page). */
export const WORDS = [0, 1, 1023];

/** One logged invalidation. */
export interface Inv {
  mm: string;
  event: number;
  start: number;
  end: number;
}

/** A real process with its mirroring device (and the device's atomic mappings). */
interface Proc {
  mm: Mm;
  ref: RefProc;
  shadow: DeviceShadow;
  sub: MmuIntervalNotifier;
  atomic: DeviceAtomicMap;
  /** hugetlb mappings made, as [start, end) pairs (flattened). */
  hugetlb: number[];
  /** The process's HMM device: device-private memory it migrates ranges into and back. */
  gpu: HmmMirror;
}

/** The owner token the model's device passes to make_device_exclusive. */
const DEVICE = { name: 'model-device' };

/** The state one property run keeps. */
export class Driver {
  readonly procs: Proc[] = [];
  readonly files: { id: number; ref: RefFile }[] = [];
  readonly log: Inv[] = [];
  /** Pages pinned with pin_user_page and not yet unpinned. */
  readonly pins: number[] = [];
  /** The first disagreement, if any. */
  failure: string | null = null;

  readonly sys: MemorySystem;
  private names = 0;

  /**
   * @param prefix names this driver's processes (unique across drivers: events are logged by name)
   * @param strict check the exact invalidations of each command (only when running alone)
   */
  constructor(
    readonly w: World,
    readonly prefix = 'p',
    readonly strict = true,
    /** The type of memory each process's device migrates into. */
    readonly gpuMemory = MEMORY_DEVICE_PRIVATE,
    /** PMD-sized device folios of each process's device (device THP migration runs). */
    readonly deviceFolios = 0,
  ) {
    this.sys = memory_system(w);
  }

  /** A fresh process name. */
  newName(): string {
    return `${this.prefix}${this.names++}`;
  }

  fail(msg: string): void {
    if (this.failure === null) this.failure = msg;
  }

  /** Gives `mm` its device and notifier; the reference copy is `ref`. */
  *attach(mm: Mm, ref: RefProc): Gen<void> {
    const shadow = device_shadow_create(mm, `dev-${mm.name}`);
    const atomic = device_atomic_create(mm, `atomic-${mm.name}`);
    const log = this.log;
    const sub = new MmuIntervalNotifier(
      {
        *invalidate(s, range, seq) {
          mmu_interval_set_seq(s, seq);
          device_unmap_range(shadow, range.start, range.end);
          device_atomic_unmap_range(atomic, range.start, range.end);
          log.push({ mm: mm.name, event: range.event, start: range.start, end: range.end });
          return true;
        },
      },
      `mirror-${mm.name}`,
    );
    const r = yield* mmu_interval_notifier_insert(sub, mm, 0, TASK_SIZE);
    if (r !== 0) this.fail(`interval insert on ${mm.name} returned ${r}`);
    const gpu = new HmmMirror(this.w, mm, 'correct', `gpu-${mm.name}`, 16, this.gpuMemory, this.deviceFolios);
    const g = yield* gpu.insert(0, TASK_SIZE);
    if (g !== 0) this.fail(`gpu interval insert on ${mm.name} returned ${g}`);
    this.procs.push({ mm, ref, shadow, sub, atomic, gpu, hugetlb: [] });
  }

  /** Drops every pin (before the processes exit, so their pages can be freed). */
  unpinAll(): void {
    for (const pfn of this.pins) unpin_user_page(this.w, pfn);
    this.pins.length = 0;
  }

  /**
   * Re-programs every device from the CPU page tables, as a correct mirror driver does: wait for
   * invalidations in progress (read_begin), then snapshot and program in one step that also
   * checks no invalidation began since. (Programming from a snapshot taken while an invalidation
   * was between its callback and its PTE change is exactly the stale mapping the oracle reports.)
   */
  *resync(): Gen<void> {
    for (const p of this.procs) {
      for (;;) {
        const seq = yield* mmu_interval_read_begin(p.sub);
        if (mmu_interval_check_retry(p.sub, seq)) continue;
        device_unmap_range(p.shadow, 0, TASK_SIZE);
        for (const a of p.ref.addresses()) {
          const m = p.mm.lookup(a);
          if (m !== null) device_map(p.shadow, a, m.pfn, m.write);
        }
        break;
      }
    }
  }

  /** Candidate addresses: every mapped page and the page on either side of each run. */
  candidates(p: Proc): number[] {
    const out = new Set<number>();
    for (const a of p.ref.addresses()) {
      out.add(a);
      if (!p.ref.pages.has(a - PAGE_SIZE) && a >= 0x20000) out.add(a - PAGE_SIZE);
      if (!p.ref.pages.has(a + PAGE_SIZE) && a + PAGE_SIZE < TASK_SIZE) out.add(a + PAGE_SIZE);
    }
    return [...out].sort((x, y) => x - y);
  }

  private pick(p: Proc, sel: number): number | null {
    const c = this.candidates(p);
    return c.length === 0 ? null : c[sel % c.length]!;
  }

  /** Runs one command against both sides and checks the results. */
  *step(cmd: Cmd): Gen<void> {
    this.log.length = 0;
    if (cmd.op === 'pwrite' || cmd.op === 'pread') return yield* this.fileOp(cmd);
    if (cmd.op === 'reclaim') {
      for (let i = 0; i < cmd.n; i++) yield* try_to_free_pages(this.sys, GFP_KERNEL);
      return this.expectEvents(cmd, (e) => e.event === 1 && e.end - e.start === PAGE_SIZE);
    }
    if (cmd.op === 'unpin') {
      const pfn = this.pins.shift();
      if (pfn !== undefined) unpin_user_page(this.w, pfn);
      return this.expectEvents(cmd, () => false);
    }
    if (this.procs.length === 0) return;
    const p = this.procs[cmd.proc % this.procs.length]!;
    switch (cmd.op) {
      case 'excl':
        return yield* this.exclusive(p, cmd);
      case 'pin': {
        const a = this.pick(p, cmd.sel);
        if (a === null) return;
        // A long-term pin must migrate a coherent page out first, which an existing pin of it
        // prevents: the kernel's gup then fails with -EBUSY (only this task touches its mm's pins).
        const mapped = cmd.longterm === true ? p.mm.lookup(a) : null;
        const pinnedCoherent = mapped !== null && this.sys.frames.isDeviceCoherent(mapped.pfn) && this.sys.frames.maybeDmaPinned(mapped.pfn);
        const pfn = yield* pin_user_page(p.mm, a, true, cmd.longterm === true ? FOLL_LONGTERM : 0);
        if (pfn >= 0 && cmd.longterm === true && this.sys.frames.isZoneDevice(pfn)) this.fail(`a long-term pin of ${p.mm.name}:0x${a.toString(16)} pinned device page ${pfn}`);
        if (pinnedCoherent) {
          if (pfn !== -EBUSY) this.fail(`a long-term pin of pinned coherent page ${mapped.pfn} at ${p.mm.name}:0x${a.toString(16)} returned ${pfn}, not -EBUSY`);
          return this.expectEvents(cmd, () => true);
        }
        const writable = p.ref.writeFault(a);
        if ((pfn >= 0) !== writable) this.fail(`pin_user_page(write) of ${p.mm.name}:0x${a.toString(16)} returned ${pfn}, reference ${writable ? 'succeeds' : 'faults'}`);
        if (pfn >= 0) this.pins.push(pfn);
        // A write pin of a private page breaks COW (CLEAR), may restore an exclusive entry, or
        // bring a device-private page back (MIGRATE).
        return this.expectEvents(cmd, (e) => (e.event === 1 && e.end - e.start === PAGE_SIZE) || isMigrateBack(e));
      }
      case 'mmap':
        return yield* this.mmap(p, cmd);
      case 'munmap':
      case 'dontneed':
      case 'free':
      case 'mprotect':
        return yield* this.rangeOp(p, cmd);
      case 'mremap':
        return yield* this.mremap(p, cmd);
      case 'mmapHuge': {
        const len = cmd.n * HPAGE;
        const addr = yield* sys_mmap(p.mm, 0, len, 3, MAP_PRIVATE | MAP_ANONYMOUS);
        if (addr < 0) return this.fail(`mmap of ${cmd.n} x 2 MiB returned ${addr}`);
        for (let a = addr; a < addr + len; a += PAGE_SIZE) p.ref.pages.set(a, { prot: 3, shared: false, backing: null, priv: new Map() });
        return;
      }
      case 'hugepage': {
        const start = this.pick(p, cmd.sel);
        if (start === null) return;
        const len = Math.min(cmd.pages * PAGE_SIZE, TASK_SIZE - start);
        const r = yield* sys_madvise(p.mm, start, len, cmd.on ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
        let want = 0;
        for (let a = start; a < start + len; a += PAGE_SIZE) if (!p.ref.pages.has(a)) want = -12;
        if (r !== want) this.fail(`madvise ${cmd.on ? 'HUGEPAGE' : 'NOHUGEPAGE'} returned ${r}, reference ${want}`);
        return;
      }
      case 'collapse': {
        const a = this.pick(p, cmd.sel);
        if (a === null) return;
        const base = a - (a % HPAGE);
        const r = yield* sys_madvise(p.mm, base, HPAGE, MADV_COLLAPSE);
        if (r !== 0 && r !== -22 && r !== -11 && r !== -12) this.fail(`MADV_COLLAPSE returned ${r}`);
        return;
      }
      case 'khugepaged':
        yield* khugepaged_scan_mm(p.mm);
        return;
      case 'mmapHugetlb': {
        const len = cmd.n * HPAGE;
        const addr = yield* sys_mmap(p.mm, 0, len, 3, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB);
        if (addr < 0) return this.fail(`hugetlb mmap of ${cmd.n} x 2 MiB returned ${addr}`);
        for (let a = addr; a < addr + len; a += PAGE_SIZE) p.ref.pages.set(a, { prot: 3, shared: false, backing: null, priv: new Map() });
        p.hugetlb.push(addr, addr + len);
        return;
      }
      case 'hugetlbOp': {
        const bases: number[] = [];
        for (let i = 0; i < p.hugetlb.length; i += 2) for (let b = p.hugetlb[i]!; b < p.hugetlb[i + 1]!; b += HPAGE) if (p.ref.pages.has(b)) bases.push(b);
        if (bases.length === 0) return;
        const b = bases[cmd.sel % bases.length]!;
        let r: number;
        if (cmd.what === 'munmap') {
          r = yield* sys_munmap(p.mm, b, HPAGE);
          for (let a = b; a < b + HPAGE; a += PAGE_SIZE) p.ref.pages.delete(a);
        } else if (cmd.what === 'mprotect') {
          r = yield* sys_mprotect(p.mm, b, HPAGE, cmd.prot);
          for (let a = b; a < b + HPAGE; a += PAGE_SIZE) p.ref.pages.get(a)!.prot = cmd.prot;
        } else {
          r = yield* sys_madvise(p.mm, b, HPAGE, MADV_DONTNEED);
          for (let a = b; a < b + HPAGE; a += PAGE_SIZE) p.ref.pages.get(a)!.priv = new Map();
        }
        if (r !== 0) this.fail(`hugetlb ${cmd.what} of 0x${b.toString(16)} returned ${r}`);
        return;
      }
      case 'todevice':
      case 'toram':
      case 'snapshot':
        return yield* this.hmmOp(p, cmd);
      case 'migrateHuge': {
        // A whole 2 MiB region inside one VMA, to the device or back (device THP migration).
        const a = this.pick(p, cmd.sel);
        if (a === null) return;
        const base = a - (a % HPAGE);
        const vma = p.mm.vmas.find(base);
        if (vma === undefined || vma.start > base || vma.end < base + HPAGE) return;
        const r = cmd.toDevice ? yield* p.gpu.migrateToDevice(base, base + HPAGE) : yield* p.gpu.migrateToRam(base, base + HPAGE);
        if (r !== 0) this.fail(`migrateHuge ${cmd.toDevice ? 'to device' : 'to RAM'} 0x${base.toString(16)} returned ${r}`);
        return this.expectEvents(cmd, (e) => e.event === 6 || e.event === 1);
      }
      case 'fork': {
        const c = yield* sys_fork(p.mm, this.newName());
        if (typeof c === 'number') return this.fail(`fork returned ${c}`);
        this.expectEvents(cmd, (e) => (e.event === 3 && e.mm === p.mm.name) || isReclaim(e));
        yield* this.attach(c, p.ref.clone());
        this.procs[this.procs.length - 1]!.hugetlb.push(...p.hugetlb);
        return;
      }
      case 'exit': {
        if (this.procs.length === 1) return; // keep one process: the rest of the sequence needs it
        yield* sys_exit(p.mm);
        const mine = this.log.filter((e) => e.mm === p.mm.name && !isReclaim(e)).map((e) => NAMES[e.event]);
        if (this.strict && mine.join() !== 'RELEASE,UNMAP') this.fail(`exit raised [${mine.join(', ')}], expected RELEASE then UNMAP`);
        yield* mmu_interval_notifier_remove(p.sub);
        this.procs.splice(this.procs.indexOf(p), 1);
        return;
      }
      case 'read': {
        const a = this.pick(p, cmd.sel);
        if (a === null) return;
        const addr = a + cmd.word * 4;
        const got = yield* read32(p.mm, addr);
        this.compare(`read32 ${p.mm.name}:0x${addr.toString(16)}`, got, p.ref.read(addr));
        // A load from device memory runs migrate_to_ram: one-page MIGRATE (and reclaim's CLEARs).
        return this.expectEvents(cmd, (e) => isReclaim(e) || isMigrateBack(e));
      }
      case 'write': {
        const a = this.pick(p, cmd.sel);
        if (a === null) return;
        const addr = a + cmd.word * 4;
        const got = yield* write32(p.mm, addr, cmd.value);
        const ok = p.ref.write(addr, cmd.value);
        if ((got === 0) !== ok) this.fail(`write32 ${p.mm.name}:0x${addr.toString(16)} returned ${got}, reference ${ok ? 'succeeds' : 'faults'}`);
        return this.expectEvents(cmd, (e) => (e.event === 1 && e.end - e.start === PAGE_SIZE) || isMigrateBack(e));
      }
    }
  }

  /**
   * make_device_exclusive of one page (whichever generation the run's kernel has), then the
   * device's atomic mapping, then the folio unlocked and put: from here any CPU access, fork,
   * zap or reclaim may take the page back, and the device's notifier must revoke its access.
   */
  private *exclusive(p: Proc, cmd: Extract<Cmd, { op: 'excl' }>): Gen<void> {
    const a = this.pick(p, cmd.sel);
    if (a === null) return;
    const pg = p.ref.pages.get(a);
    // GUP for write gives a private page an anonymous copy: only shared pages are refused.
    const eligible = pg !== undefined && !pg.shared && p.ref.writeFault(a);
    yield* mmap_read_lock(p.mm);
    let pfn: number;
    if (contractOf(this.w).deviceExclusiveApi === 'range') {
      const pages: (number | null)[] = [];
      const n = yield* make_device_exclusive_range(p.mm, a, a + PAGE_SIZE, pages, DEVICE);
      pfn = n > 0 && pages[0] !== null ? pages[0]! : n > 0 ? -EOPNOTSUPP : n;
    } else {
      pfn = yield* make_device_exclusive(p.mm, a, DEVICE, { folio: -1 });
    }
    yield* mmap_read_unlock(p.mm);
    if ((pfn >= 0) !== eligible) this.fail(`make_device_exclusive of ${p.mm.name}:0x${a.toString(16)} returned ${pfn}, reference ${eligible ? 'succeeds' : 'fails'}`);
    if (pfn < 0) return;
    device_atomic_map(p.atomic, a, pfn);
    yield* folio_unlock(pfn);
    this.sys.putPage(pfn);
    // EXCLUSIVE with the owner over the page, a COW break's CLEAR, reclaim's CLEARs, a
    // device-private page's way back (MIGRATE).
    this.expectEvents(cmd, (e) => (e.end - e.start === PAGE_SIZE && (e.event === 7 || e.event === 1)) || isMigrateBack(e));
  }

  private *fileOp(cmd: Extract<Cmd, { op: 'pwrite' | 'pread' }>): Gen<void> {
    const f = this.files[cmd.file % this.files.length]!;
    const off = cmd.page * PAGE_SIZE + WORDS[cmd.word % WORDS.length]! * 4;
    if (cmd.op === 'pwrite') {
      const r = yield* sys_pwrite32(this.w, f.id, off, cmd.value);
      if (r !== 0) this.fail(`pwrite32 returned ${r}`);
      f.ref.write(off, cmd.value >>> 0);
    } else {
      const r = yield* sys_pread32(this.w, f.id, off);
      const want = off >= f.ref.size ? 0 : f.ref.read(off);
      if (r !== want) this.fail(`pread32 file ${f.id}+${off} returned ${r}, reference ${want}`);
    }
    this.expectEvents(cmd, isReclaim);
  }

  private *mmap(p: Proc, cmd: Extract<Cmd, { op: 'mmap' }>): Gen<void> {
    const anon = cmd.kind < 2;
    const shared = cmd.kind % 2 === 1;
    const f = this.files[cmd.file % this.files.length]!;
    const fixedAt = cmd.fixed ? this.pick(p, cmd.sel) : null;
    const flags = (shared ? MAP_SHARED : MAP_PRIVATE) | (anon ? MAP_ANONYMOUS : 0) | (fixedAt !== null ? MAP_FIXED : 0);
    const len = cmd.pages * PAGE_SIZE;
    const addr = yield* sys_mmap(p.mm, fixedAt ?? 0, len, cmd.prot, flags, anon ? -1 : f.id, anon ? 0 : cmd.fileOff * PAGE_SIZE);
    if (fixedAt !== null && fixedAt + len > TASK_SIZE) {
      if (addr !== -12) this.fail(`MAP_FIXED mmap past the end of user space returned ${addr}, expected -ENOMEM`);
      return;
    }
    if (addr < 0) return this.fail(`mmap returned ${addr}`);
    if (fixedAt !== null && addr !== fixedAt) return this.fail(`MAP_FIXED mmap at 0x${fixedAt.toString(16)} returned 0x${addr.toString(16)}`);
    let replaced = false;
    for (let i = 0; i < cmd.pages; i++) if (p.ref.pages.has(addr + i * PAGE_SIZE)) replaced = true;
    if (replaced && fixedAt === null) return this.fail(`mmap returned 0x${addr.toString(16)}, over an existing mapping`);
    const shm = anon && shared ? new RefFile(len) : null;
    for (let i = 0; i < cmd.pages; i++) {
      const backing = anon ? (shm === null ? null : { file: shm, pgoff: i }) : { file: f.ref, pgoff: cmd.fileOff + i };
      p.ref.pages.set(addr + i * PAGE_SIZE, { prot: cmd.prot, shared, backing, priv: anon && !shared ? new Map() : null });
    }
    // MAP_FIXED over a mapping unmaps it first: one UNMAP over the new range.
    const want = replaced ? [`UNMAP ${addr}-${addr + len}`] : [];
    this.expectExact(cmd, p, want, (e) => e.event === 0);
  }

  private *rangeOp(p: Proc, cmd: Extract<Cmd, { op: 'munmap' | 'dontneed' | 'free' | 'mprotect' }>): Gen<void> {
    const start = this.pick(p, cmd.sel);
    if (start === null) return;
    const len = Math.min(cmd.pages * PAGE_SIZE, TASK_SIZE - start);
    const addrs: number[] = [];
    for (let a = start; a < start + len; a += PAGE_SIZE) addrs.push(a);
    const mapped = addrs.filter((a) => p.ref.pages.has(a));
    if (cmd.op === 'munmap') {
      const r = yield* sys_munmap(p.mm, start, len);
      if (r !== 0) this.fail(`munmap returned ${r}`);
      for (const a of addrs) p.ref.pages.delete(a);
      return this.expectExact(cmd, p, mapped.length > 0 ? [`UNMAP ${start}-${start + len}`] : [], () => true);
    }
    if (cmd.op === 'mprotect') {
      const r = yield* sys_mprotect(p.mm, start, len, cmd.prot);
      let want = 0;
      let changed = false;
      for (const a of addrs) {
        const pg = p.ref.pages.get(a);
        if (pg === undefined) {
          want = -12;
          break;
        }
        if (pg.prot !== cmd.prot) changed = true;
        pg.prot = cmd.prot;
      }
      if (r !== want) this.fail(`mprotect returned ${r}, reference ${want}`);
      // Identical flags raise nothing (mprotect_fixup returns early); events lie in the range.
      if (this.strict && !changed && this.log.some((e) => e.event === 2)) this.fail(`mprotect to the same protection raised PROTECTION_VMA`);
      return this.expectEvents(cmd, (e) => e.event === 2 && e.start >= start && e.end <= start + len);
    }
    const r = yield* sys_madvise(p.mm, start, len, cmd.op === 'dontneed' ? MADV_DONTNEED : MADV_FREE);
    let want = 0;
    const covered: number[] = [];
    for (const a of addrs) {
      const pg = p.ref.pages.get(a);
      if (pg === undefined) {
        want = -12;
        continue;
      }
      if (cmd.op === 'free') {
        if (pg.shared || pg.backing !== null) {
          want = -22;
          break;
        }
        for (const word of pg.priv?.values() ?? []) word.maybeZero = true;
      } else if (!pg.shared) {
        pg.priv = pg.backing === null ? new Map() : null;
      }
      covered.push(a);
    }
    if (r !== want) this.fail(`madvise ${cmd.op} returned ${r}, reference ${want}`);
    // One CLEAR per VMA part: together exactly the advised mapped pages.
    const clears = this.log.filter((e) => e.mm === p.mm.name && e.event === 1);
    const pages = new Set<number>();
    for (const e of clears) for (let a = e.start; a < e.end; a += PAGE_SIZE) pages.add(a);
    if (this.strict && (pages.size !== covered.length || covered.some((a) => !pages.has(a)))) {
      this.fail(`madvise ${cmd.op} CLEAR ranges cover ${[...pages].length} pages, expected ${covered.length}`);
    }
    this.expectEvents(cmd, (e) => e.event === 1);
  }

  private *mremap(p: Proc, cmd: Extract<Cmd, { op: 'mremap' }>): Gen<void> {
    const old = this.pick(p, cmd.sel);
    if (old === null) return;
    const olen = cmd.pages * PAGE_SIZE;
    const nlen = cmd.newPages * PAGE_SIZE;
    const vma = p.mm.vmas.find(old);
    const inOne = vma !== undefined && old + olen <= vma.end;
    const r = yield* sys_mremap(p.mm, old, olen, nlen, MREMAP_MAYMOVE);
    if (!inOne) {
      if (r !== -14) this.fail(`mremap of a range that is not one mapping returned ${r}`);
      return;
    }
    if (r < 0) return this.fail(`mremap returned ${r}`);
    for (let i = 0; i < cmd.newPages; i++) {
      const a = r + i * PAGE_SIZE;
      if (p.ref.pages.has(a) && !(a >= old && a < old + olen)) return this.fail(`mremap moved onto a mapping at 0x${a.toString(16)}`);
    }
    const moved: [number, ReturnType<RefProc['pages']['get']>][] = [];
    for (let i = 0; i < cmd.pages; i++) moved.push([i, p.ref.pages.get(old + i * PAGE_SIZE)]);
    const last = moved[moved.length - 1]![1]!;
    for (let i = 0; i < cmd.pages; i++) p.ref.pages.delete(old + i * PAGE_SIZE);
    for (let i = 0; i < cmd.newPages; i++) {
      const a = r + i * PAGE_SIZE;
      if (i < cmd.pages) {
        p.ref.pages.set(a, moved[i]![1]!);
        continue;
      }
      const backing = last.backing === null ? null : { file: last.backing.file, pgoff: last.backing.pgoff + (i - cmd.pages + 1) };
      p.ref.pages.set(a, { prot: last.prot, shared: last.shared, backing, priv: backing === null ? new Map() : null });
    }
    this.expectEvents(cmd, (e) => e.event === 0 && e.start >= old && e.end <= old + olen);
  }

  /**
   * Migrations to device memory and back (contents must survive: checkAll reads them through the
   * device page), and a no-fault hmm_range_fault whose every word must agree with the reference:
   * ERROR where the reference has no page or no read permission, otherwise 0 or a VALID page
   * holding exactly the reference's data, WRITE only where the reference allows writing.
   */
  private *hmmOp(p: Proc, cmd: Extract<Cmd, { op: 'todevice' | 'toram' | 'snapshot' }>): Gen<void> {
    const start = this.pick(p, cmd.sel);
    if (start === null) return;
    const vma = p.mm.vmas.find(start);
    const end = Math.min(start + cmd.pages * PAGE_SIZE, vma?.end ?? start + PAGE_SIZE);
    if (cmd.op !== 'snapshot') {
      if (vma === undefined) return;
      const r = cmd.op === 'todevice' ? yield* p.gpu.migrateToDevice(start, end) : yield* p.gpu.migrateToRam(start, end);
      if (r !== 0) this.fail(`${cmd.op} [0x${start.toString(16)}, 0x${end.toString(16)}) returned ${r}`);
      // Collect raises MIGRATE over the range; unmapping other mappings raises one-page CLEARs.
      return this.expectEvents(cmd, (e) => e.event === 6 || e.event === 1);
    }
    const n = (end - start) / PAGE_SIZE;
    const range = new HmmRange({ notifier: p.sub, start, end, hmm_pfns: new BigUint64Array(n), dev_private_owner: p.gpu.owner });
    let r = -EBUSY;
    while (r === -EBUSY) {
      range.notifier_seq = yield* mmu_interval_read_begin(p.sub);
      yield* mmap_read_lock(p.mm);
      r = yield* hmm_range_fault(range);
      yield* mmap_read_unlock(p.mm);
    }
    if (r !== 0) return this.fail(`snapshot returned ${r}`);
    for (let i = 0; i < n; i++) {
      const a = start + i * PAGE_SIZE;
      const w = range.hmm_pfns[i]!;
      const pg = p.ref.pages.get(a);
      const where = `snapshot ${p.mm.name}:0x${a.toString(16)}`;
      if (pg === undefined || (pg.prot & 1) === 0) {
        if (w !== HMM_PFN_ERROR) this.fail(`${where}: ${w.toString(16)}, reference has ${pg === undefined ? 'no page' : 'no read permission'} (ERROR)`);
        continue;
      }
      if (w === 0n) continue;
      if ((w & HMM_PFN_VALID) === 0n || (w & HMM_PFN_ERROR) !== 0n) {
        this.fail(`${where}: ${w.toString(16)} is neither 0 nor a valid page`);
        continue;
      }
      if ((w & HMM_PFN_WRITE) !== 0n && (pg.prot & 2) === 0) this.fail(`${where}: WRITE on a page the reference maps read-only`);
      for (const word of WORDS) {
        const want = p.ref.content(pg, word);
        const got = this.sys.frames.read32(hmm_pfn_to_page(w), word * 4);
        if (!want.fault && !want.values.includes(got)) this.fail(`${where}+${word * 4}: page holds ${got}, reference ${want.values.join(' or ')}`);
      }
    }
  }

  /** Every logged event must satisfy `ok` (an exclusive entry's one-page restore may come with any command). */
  private expectEvents(cmd: Cmd, ok: (e: Inv) => boolean): void {
    if (!this.strict) return;
    for (const e of this.log) if (!ok(e) && !isExclusiveRestore(e)) this.fail(`${cmd.op}: unexpected invalidation ${describe(e)}`);
  }

  /** The events on `p`'s mm selected by `which` must be exactly `want` (plus reclaim CLEARs). */
  private expectExact(cmd: Cmd, p: Proc, want: string[], which: (e: Inv) => boolean): void {
    if (!this.strict) return;
    const got = this.log.filter((e) => e.mm === p.mm.name && which(e) && !isReclaim(e)).map((e) => `${NAMES[e.event]} ${e.start}-${e.end}`);
    if (got.join() !== want.join()) this.fail(`${cmd.op}: invalidations [${got.join(', ')}], expected [${want.join(', ')}]`);
    this.expectEvents(cmd, (e) => isReclaim(e) || which(e));
  }

  private compare(what: string, got: number, want: Expect): void {
    if (want.fault) {
      if (got !== -14) this.fail(`${what} returned ${got}, reference faults`);
    } else if (!want.values.includes(got)) {
      this.fail(`${what} returned ${got}, reference ${want.values.join(' or ')}`);
    }
  }

  /** Checks every tracked word of every process without disturbing anything, and the counts. */
  checkAll(consistency: boolean): void {
    for (const p of this.procs) {
      for (const a of p.ref.addresses()) {
        const pg = p.ref.pages.get(a)!;
        for (const w of WORDS) {
          const want = p.ref.content(pg, w);
          const got = peek32(p.mm, a + w * 4);
          if (want.fault ? got !== null : got === null || !want.values.includes(got)) {
            this.fail(`${p.mm.name}:0x${(a + w * 4).toString(16)} holds ${got}, reference ${want.fault ? 'faults' : want.values.join(' or ')}`);
          }
        }
      }
      if (p.mm.killed) this.fail(`${p.mm.name} was OOM-killed`);
    }
    if (consistency) for (const line of mm_consistency(this.sys)) this.fail(line);
    for (const f of this.w.findings) this.fail(`finding [${f.kind}] ${f.message}`);
  }
}

const NAMES = ['UNMAP', 'CLEAR', 'PROTECTION_VMA', 'PROTECTION_PAGE', 'SOFT_DIRTY', 'RELEASE', 'MIGRATE', 'EXCLUSIVE'];

function describe(e: Inv): string {
  return `${NAMES[e.event]} ${e.mm} [0x${e.start.toString(16)}, 0x${e.end.toString(16)})`;
}

/** A device-exclusive entry restored by a CPU access (EXCLUSIVE before v6.15, CLEAR since): one page. */
export function isExclusiveRestore(e: Inv): boolean {
  return (e.event === 7 || e.event === 1) && e.end - e.start === PAGE_SIZE;
}

/** migrate_to_ram's invalidations: a one-page MIGRATE. */
function isMigrateBack(e: Inv): boolean {
  return e.event === 6 && e.end - e.start === PAGE_SIZE;
}

/** A reclaim's invalidation: CLEAR of one page, on any mm. */
export function isReclaim(e: Inv): boolean {
  return e.event === 1 && e.end - e.start === PAGE_SIZE;
}
