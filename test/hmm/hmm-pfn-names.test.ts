/** The hmm_pfns flag names mean what the kernel's do (review item 12). */
import { describe, expect, it } from 'vitest';
import {
  HMM_PFN_DMA_MAPPED,
  HMM_PFN_ERROR,
  HMM_PFN_FLAGS,
  HMM_PFN_INOUT_FLAGS,
  HMM_PFN_ORDER_SHIFT,
  HMM_PFN_P2PDMA,
  HMM_PFN_P2PDMA_BUS,
  HMM_PFN_VALID,
  HMM_PFN_WRITE,
  hmm_pfn_encode,
  hmm_pfn_to_pfn,
} from '../../src/hmm/hmm-pfn.ts';

describe('hmm_pfns flag names', () => {
  it('HMM_PFN_INOUT_FLAGS is the sticky set mm/hmm.c carries from input to output, not the output bits', () => {
    expect(HMM_PFN_INOUT_FLAGS).toBe(HMM_PFN_DMA_MAPPED | HMM_PFN_P2PDMA | HMM_PFN_P2PDMA_BUS);
    expect(HMM_PFN_INOUT_FLAGS & (HMM_PFN_VALID | HMM_PFN_WRITE | HMM_PFN_ERROR)).toBe(0n);
  });
  it('HMM_PFN_FLAGS is every bit from the order field up, and its complement is the pfn', () => {
    expect(HMM_PFN_FLAGS).toBe(0xffe0000000000000n);
    expect(HMM_PFN_ORDER_SHIFT).toBe(53n);
    const w = hmm_pfn_encode({ pfn: 12345, valid: true, write: true, error: false, order: 9, sticky: HMM_PFN_P2PDMA });
    expect(hmm_pfn_to_pfn(w)).toBe(12345);
  });
});
