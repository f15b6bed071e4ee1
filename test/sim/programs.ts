/**
 * Random small concurrent programs for property tests: tasks that load and store shared cells,
 * sleep on and wake a wait queue, and the check that turns a lost increment into a finding.
 */
import fc from 'fast-check';
import { Access } from '../../src/sim/point.js';
import type { Program } from '../../src/sim/program.js';
import type { World } from '../../src/sim/world.js';

/** One operation of a task. */
export type Op =
  | { readonly op: 'inc'; readonly cell: number } // load, then store load+1 in a second step
  | { readonly op: 'read'; readonly cell: number }
  | { readonly op: 'anon' } // a point that names no object
  | { readonly op: 'wake' }
  | { readonly op: 'wait' }; // timed wait, so programs never deadlock

export type ProgramSpec = readonly (readonly Op[])[];

export const CELLS = 3;

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('inc' as const), cell: fc.integer({ min: 0, max: CELLS - 1 }) }),
  fc.record({ op: fc.constant('read' as const), cell: fc.integer({ min: 0, max: CELLS - 1 }) }),
  fc.constant({ op: 'anon' as const }),
  fc.constant({ op: 'wake' as const }),
  fc.constant({ op: 'wait' as const }),
);

export const programArb: fc.Arbitrary<ProgramSpec> = fc.array(fc.array(opArb, { minLength: 1, maxLength: 5 }), { minLength: 2, maxLength: 3 });

/** Builds a Program from a spec. A lost increment is reported as `lost-update`. */
export function buildProgram(spec: ProgramSpec): Program {
  return {
    start(w: World) {
      const cells = Array.from({ length: CELLS }, (_, i) => ({ name: `cell${i}`, value: 0 }));
      const wq = w.waitQueue('wq');
      w.locals.set('cells', cells);
      spec.forEach((ops, ti) =>
        w.spawn(`t${ti}`, function* () {
          for (const o of ops) {
            switch (o.op) {
              case 'inc': {
                const c = cells[o.cell]!;
                yield w.point(`load ${c.name}`, c, Access.Read);
                const v = c.value;
                yield w.point(`store ${c.name}`, c, Access.Write);
                c.value = v + 1;
                break;
              }
              case 'read':
                yield w.point(`read ${cells[o.cell]!.name}`, cells[o.cell]!, Access.Read);
                break;
              case 'anon':
                yield 'anon';
                break;
              case 'wake':
                yield w.point('wake wq', wq, Access.Write);
                wq.wakeAll();
                break;
              case 'wait':
                yield w.point('wait wq', wq, Access.Write);
                yield wq.blockTimeout(10);
                break;
            }
          }
        }),
      );
    },
    finish(w: World) {
      const cells = w.locals.get('cells') as { name: string; value: number }[];
      cells.forEach((c, i) => {
        const want = spec.reduce((n, ops) => n + ops.filter((o) => o.op === 'inc' && o.cell === i).length, 0);
        if (c.value !== want) w.report('lost-update', `${c.name} is ${c.value}, expected ${want}`, c.name);
      });
    },
  };
}

/** Number of ways to interleave tasks of the given step counts: the multinomial coefficient. */
export function interleavings(steps: readonly number[]): number {
  let total = 0;
  let result = 1;
  for (const s of steps) {
    for (let i = 1; i <= s; i++) {
      total++;
      result = (result * total) / i;
    }
  }
  return Math.round(result);
}
