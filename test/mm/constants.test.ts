import { describe, expect, it } from 'vitest';
import {
  PAGE_SIZE,
  PGDIR_SIZE,
  PMD_SIZE,
  PTRS_PER_TABLE,
  PUD_SIZE,
  TASK_SIZE,
  VA_SPACE_SIZE,
  WORDS_PER_PAGE,
  bytesToPages,
  hexAddr,
  isPageAligned,
  pageAlignDown,
  pageAlignUp,
} from '../../src/mm/constants.ts';

describe('mm constants', () => {
  it('the level sizes multiply out to a 48-bit space', () => {
    expect(PMD_SIZE).toBe(PAGE_SIZE * PTRS_PER_TABLE);
    expect(PUD_SIZE).toBe(PMD_SIZE * PTRS_PER_TABLE);
    expect(PGDIR_SIZE).toBe(PUD_SIZE * PTRS_PER_TABLE);
    expect(VA_SPACE_SIZE).toBe(PGDIR_SIZE * PTRS_PER_TABLE);
    expect(TASK_SIZE).toBeLessThan(VA_SPACE_SIZE / 2);
    expect(WORDS_PER_PAGE * 4).toBe(PAGE_SIZE);
  });

  it('alignment helpers are exact above 2^32', () => {
    const a = 2 ** 46 + 5 * PAGE_SIZE;
    expect(isPageAligned(a)).toBe(true);
    expect(isPageAligned(a + 1)).toBe(false);
    expect(isPageAligned(-PAGE_SIZE)).toBe(false);
    expect(isPageAligned(1.5)).toBe(false);
    expect(pageAlignDown(a + 4095)).toBe(a);
    expect(pageAlignUp(a + 1)).toBe(a + PAGE_SIZE);
    expect(pageAlignUp(a)).toBe(a);
    expect(bytesToPages(3 * PAGE_SIZE)).toBe(3);
    expect(hexAddr(0x7f0000001000)).toBe('0x7f0000001000');
  });
});
