/**
 * Heap measurement for the memory benchmarks: a forced garbage collection (without needing
 * --expose-gc on the command line) and the bytes in use after it.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** A function that runs a full garbage collection. */
export function gcFunction(): () => void {
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

/** Heap plus array-buffer bytes in use, after collecting garbage a few times. */
export function used(gc: () => void): number {
  for (let i = 0; i < 3; i++) gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}
