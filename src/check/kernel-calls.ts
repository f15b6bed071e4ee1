/**
 * Registers the kernel-facing functions of the layers below as kernel calls (sim/calls.ts), so a
 * recorded trace names the call each step belongs to: the outermost one on the task's stack is
 * the driver-level call (`mmu_interval_read_begin`, `hmm_range_fault`, `migrate_vma_setup`).
 * Registration happens once, when this module loads; recording pays for the stack walk only
 * when a trace is recorded. Oracle instrumentation (the device shadow, the mm's consistency
 * checks) is no kernel call and is left out. So are the locking primitives (mutex_lock, down_read,
 * kmalloc, ...): a step's own label already names them, and the primitive a wrapper hands its
 * generator to (mmap_read_lock to down_read_nested) would name the wrong one. The dma_resv and
 * dma_fence calls stay: they are driver-level calls built on ww_mutex and wait queues.
 */
import * as hmm from '../hmm/index.js';
import * as deviceExclusive from '../hmm/device-exclusive.js';
import * as legacyHmm from '../hmm/legacy/index.js';
import * as dmaFence from '../locking/dma-fence.js';
import * as dmaResv from '../locking/dma-resv.js';
import * as mm from '../mm/index.js';
import * as classic from '../notifier/classic.js';
import * as cpuStub from '../notifier/cpu-stub.js';
import * as interval from '../notifier/interval.js';
import * as invalidate from '../notifier/invalidate.js';
import * as notifierMm from '../notifier/mm.js';
import * as range from '../notifier/range.js';
import * as teardown from '../notifier/teardown.js';
import { registerKernelCalls } from '../sim/calls.js';

/** mm's oracle entry points: checks a scenario runs, not calls a kernel makes. */
const MM_ORACLES: ReadonlySet<string> = new Set(['mm_check', 'mm_consistency', 'peek32']);

for (const ns of [
  dmaFence, dmaResv, classic, cpuStub, interval, invalidate, notifierMm, range, teardown, hmm, deviceExclusive, legacyHmm,
]) {
  registerKernelCalls(ns as Readonly<Record<string, unknown>>);
}
registerKernelCalls(mm as Readonly<Record<string, unknown>>, MM_ORACLES);
