/**
 * Atomic counters and READ_ONCE/WRITE_ONCE-style shared variables. Each access is a scheduling
 * point naming the variable, so unlocked shared state is interleaved (and told apart by the
 * explorer) exactly where the kernel's lockless accesses are.
 */
import { Access, type SimObject } from '../sim/point.js';
import type { World } from '../sim/world.js';
import { opLabel } from '../sim/labels.js';

/** An `atomic_t`. */
export class AtomicT implements SimObject {
  constructor(
    readonly world: World,
    readonly name: string,
    public counter = 0,
  ) {}
}

/** A plain shared variable accessed with READ_ONCE / WRITE_ONCE. */
export class Shared<T> implements SimObject {
  constructor(
    readonly world: World,
    readonly name: string,
    public value: T,
  ) {}
}

/** `atomic_read`. */
export function* atomic_read(a: AtomicT): Generator<unknown, number, unknown> {
  yield a.world.point(opLabel('atomic_read', a.name), a, Access.Read);
  return a.counter;
}
/** `atomic_set`. */
export function* atomic_set(a: AtomicT, v: number): Generator<unknown, void, unknown> {
  yield a.world.point(opLabel('atomic_set', a.name), a, Access.Write);
  a.counter = v;
}
/** `atomic_add_return`: the new value. */
export function* atomic_add_return(i: number, a: AtomicT): Generator<unknown, number, unknown> {
  yield a.world.point(opLabel('atomic_add', a.name), a, Access.Write);
  a.counter += i;
  return a.counter;
}
/** `atomic_inc`. */
export function* atomic_inc(a: AtomicT): Generator<unknown, void, unknown> {
  yield* atomic_add_return(1, a);
}
/** `atomic_dec`. */
export function* atomic_dec(a: AtomicT): Generator<unknown, void, unknown> {
  yield* atomic_add_return(-1, a);
}
/** `atomic_inc_return`. */
export function atomic_inc_return(a: AtomicT): Generator<unknown, number, unknown> {
  return atomic_add_return(1, a);
}
/** `atomic_dec_return`. */
export function atomic_dec_return(a: AtomicT): Generator<unknown, number, unknown> {
  return atomic_add_return(-1, a);
}
/** `atomic_dec_and_test`: true when the counter reached 0. */
export function* atomic_dec_and_test(a: AtomicT): Generator<unknown, boolean, unknown> {
  return (yield* atomic_add_return(-1, a)) === 0;
}
/** `atomic_cmpxchg`: stores `newv` if the counter was `old`; returns the previous value. */
export function* atomic_cmpxchg(a: AtomicT, old: number, newv: number): Generator<unknown, number, unknown> {
  yield a.world.point(opLabel('atomic_cmpxchg', a.name), a, Access.Write);
  const prev = a.counter;
  if (prev === old) a.counter = newv;
  return prev;
}

/** `READ_ONCE(x)`. */
export function* READ_ONCE<T>(x: Shared<T>): Generator<unknown, T, unknown> {
  yield x.world.point(opLabel('READ_ONCE', x.name), x, Access.Read);
  return x.value;
}
/** `WRITE_ONCE(x, v)`. */
export function* WRITE_ONCE<T>(x: Shared<T>, v: T): Generator<unknown, void, unknown> {
  yield x.world.point(opLabel('WRITE_ONCE', x.name), x, Access.Write);
  x.value = v;
}
