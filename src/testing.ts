/**
 * `hmmsim/testing`: what scenarios use besides the kernel's API, and the hooks hmmsim's own
 * layers use to feed its oracles. None of it is a kernel function a driver would call.
 *
 * - The minimal CPU stand-in (`cpu_stub_attach`, `cpu_stub_munmap`, `cpu_stub_migrate`,
 *   `cpu_stub_oom_reap`, `STUB_PAGE`): a CPU page table and the CPU-side operations that
 *   invalidate it, for scenarios about the notifier protocol that do not need the full address
 *   space of the mm model (`mm_create`, `sys_munmap`, ... in the package root).
 * - Oracle hooks: `cpu_mapping_changed` and `page_freed` tell the device-coherence oracle what the
 *   CPU side did (the mm model and the stand-in call them); `expectQuiescent` registers a value a
 *   driver model's state must return to by the end of a run.
 *
 *     import { cpu_stub_attach, cpu_stub_munmap, STUB_PAGE } from 'hmmsim/testing';
 */
export { CpuStub, cpu_stub_attach, cpu_stub_munmap, cpu_stub_migrate, cpu_stub_oom_reap, STUB_PAGE } from './notifier/cpu-stub.js';
export { cpu_mapping_changed, page_freed } from './notifier/coherence.js';
export { expectQuiescent } from './notifier/quiescence.js';
