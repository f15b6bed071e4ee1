/**
 * Which kernel call a step belongs to, for the trace: when a trace is recorded, every scheduling
 * point looks at the JavaScript call stack of the task that announces it and names the kernel
 * functions on it, outermost first (`hmm_range_fault › handle_mm_fault › mutex_lock`). The
 * outermost is the driver-level call the step is part of.
 *
 * Nothing here runs unless a trace is being recorded: the explorer's hot path pays one null
 * check per point. Which functions are kernel calls is registered by the layers above (the
 * check layer registers the kernel-facing exports of locking, notifier, mm and hmm); the
 * registry maps a function's `name` as stack frames show it (a bundler may have renamed it,
 * `hmm_range_fault2`) to the kernel's name.
 */

const kernelNames = new Map<string, string>();

/** Kernel-style names: lowercase words joined by underscores, or a macro's capitals (READ_ONCE); camelCase helpers are internals. */
const KERNEL_STYLE = /^(?:_*[a-z][a-z0-9]*(?:_+[a-z0-9]+)*|[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)$/;

/**
 * Registers the functions of a module namespace whose exported name is kernel-style as kernel
 * calls. `exclude` lists names that are not kernel calls even so (oracle instrumentation).
 */
export function registerKernelCalls(ns: Readonly<Record<string, unknown>>, exclude: ReadonlySet<string> = new Set()): void {
  for (const [exported, value] of Object.entries(ns)) {
    if (typeof value !== 'function' || !KERNEL_STYLE.test(exported) || exclude.has(exported)) continue;
    const shown = (value as { name?: unknown }).name;
    if (typeof shown === 'string' && shown !== '') kernelNames.set(shown, exported);
  }
}

/** True once any kernel call has been registered (a trace without them names no calls). */
export function haveKernelCalls(): boolean {
  return kernelNames.size > 0;
}

type CallSiteLike = { getFunctionName(): string | null };

const keepSites = (_e: Error, sites: CallSiteLike[]): CallSiteLike[] => sites;

/**
 * The kernel calls on the current JavaScript stack, outermost first, joined with ' › ' ('' when
 * none). Called only while a trace is recorded: it captures a stack.
 */
export function kernelCallsOnStack(): string {
  if (kernelNames.size === 0) return '';
  const limit = Error.stackTraceLimit;
  const prepare = Error.prepareStackTrace;
  Error.stackTraceLimit = 200;
  // Structured frames, not text: no source-map rewriting, no parsing.
  Error.prepareStackTrace = keepSites as unknown as typeof Error.prepareStackTrace;
  let sites: CallSiteLike[];
  try {
    sites = new Error().stack as unknown as CallSiteLike[];
  } finally {
    Error.stackTraceLimit = limit;
    Error.prepareStackTrace = prepare;
  }
  let out = '';
  let last = '';
  for (let i = sites.length - 1; i >= 0; i--) {
    const fn = sites[i]!.getFunctionName();
    if (fn === null) continue;
    const name = kernelNames.get(fn);
    if (name === undefined || name === last) continue;
    out = out === '' ? name : `${out} › ${name}`;
    last = name;
  }
  return out;
}
