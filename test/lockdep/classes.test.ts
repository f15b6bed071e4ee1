/**
 * Lock classes (spec §2).
 */
import { describe, expect, it } from 'vitest';
import { ClassTable } from '../../src/lockdep/classes.ts';
import { LockdepMap, lockClassKey, lockdepSetClass, lockdepSetSubclass } from '../../src/lockdep/index.ts';

describe('ClassTable', () => {
  it('string keys are interned: same string, same class', () => {
    const t = new ClassTable();
    const a = new LockdepMap('&mm->mmap_lock');
    const b = new LockdepMap('&mm->mmap_lock');
    expect(t.lookup(a, 0)).toBe(t.lookup(b, 0));
    expect(t.size).toBe(1);
  });

  it('object keys are by identity; distinct keys sharing a name get #2, subclasses /n', () => {
    const t = new ClassTable();
    const k1 = lockClassKey('site1');
    const k2 = lockClassKey('site2');
    const a = new LockdepMap('&obj->lock', { key: k1 });
    const b = new LockdepMap('&obj->lock', { key: k2 });
    const c = new LockdepMap('other-name', { key: k1 });
    const ia = t.lookup(a, 0);
    const ib = t.lookup(b, 0);
    expect(ia).not.toBe(ib);
    expect(t.lookup(c, 0)).toBe(ia);
    expect(t.list[ib]!.name).toBe('&obj->lock#2');
    expect(t.list[t.lookup(b, 3)]!.name).toBe('&obj->lock#2/3');
  });

  it('map caches are invalidated by clear and by re-keying', () => {
    const t = new ClassTable();
    const m = new LockdepMap('a');
    expect(t.lookup(m, 0)).toBe(0);
    t.lookup(new LockdepMap('b'), 0);
    lockdepSetClass(m, 'b');
    expect(t.lookup(m, 0)).toBe(1);
    lockdepSetSubclass(m, 2);
    expect(t.list[t.lookup(m, 2)]!.name).toBe('b/2');
    t.clear();
    expect(t.peek(m, 2)).toBe(-1);
    expect(t.lookup(m, 2)).toBe(0);
  });

  it('two tables do not share cached ids', () => {
    const t1 = new ClassTable();
    const t2 = new ClassTable();
    const m = new LockdepMap('m');
    t1.lookup(new LockdepMap('x'), 0);
    expect(t1.lookup(m, 0)).toBe(1);
    expect(t2.lookup(m, 0)).toBe(0);
    expect(t1.lookup(m, 0)).toBe(1);
  });
});
