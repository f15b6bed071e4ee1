import { describe, expect, it } from 'vitest';
import { PageContents } from '../../src/mm/page-contents.ts';

describe('PageContents', () => {
  it('reads zeros without a buffer, allocates on the first non-zero write, recycles cleanly', () => {
    const c = new PageContents();
    expect(c.read(5, 10)).toBe(0);
    c.write(5, 10, 0);
    expect(c.has(5)).toBe(false);
    c.write(5, 10, -1);
    expect(c.read(5, 10)).toBe(0xffffffff); // stored unsigned
    expect(c.size).toBe(1);
    expect(c.bytes()).toBe(4096);
    c.drop(5);
    expect(c.has(5)).toBe(false);
    expect(c.bytes()).toBe(4096); // kept as a spare
    c.write(6, 0, 1);
    expect(c.read(6, 10)).toBe(0); // the recycled buffer was cleared
    expect(c.bytes()).toBe(4096);
  });

  it('load copies, null clears, wrong sizes throw', () => {
    const c = new PageContents();
    const data = new Uint32Array(1024);
    data[3] = 9;
    c.load(1, data);
    data[3] = 10;
    expect(c.read(1, 3)).toBe(9);
    c.load(1, c.peek(1)!); // loading a page onto itself is harmless
    expect(c.read(1, 3)).toBe(9);
    c.load(1, null);
    expect(c.has(1)).toBe(false);
    expect(() => c.load(1, new Uint32Array(4))).toThrow(/words/);
  });
});
