import { describe, expect, it } from 'vitest';
import * as F from '../../src/mm/frame-flags.ts';

describe('frame flags', () => {
  it('PG_* bits are distinct single bits that fit the Uint16 flag word', () => {
    const bits = Object.entries(F)
      .filter(([k]) => k.startsWith('PG_') && k !== 'PG_OWNED_BY_TABLE')
      .map(([, v]) => v as number);
    expect(bits.length).toBe(15);
    expect(new Set(bits).size).toBe(bits.length);
    for (const b of bits) {
      expect(b & (b - 1)).toBe(0);
      expect(b).toBeLessThan(0x10000);
    }
  });

  it('frameFlagNames lists set flags in bit order', () => {
    expect(F.frameFlagNames(F.PG_DIRTY | F.PG_LOCKED | F.PG_ANON)).toBe('locked|dirty|anon');
    expect(F.frameFlagNames(0)).toBe('');
    expect(F.frameFlagNames(F.PG_BUDDY | F.PG_DEVICE_PRIVATE)).toBe('device_private|buddy');
    expect(F.frameFlagNames(F.PG_BUDDY | F.PG_DEVICE_COHERENT)).toBe('buddy|device_coherent');
  });
});
