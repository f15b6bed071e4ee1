/**
 * The port of the kernel's HMM selftest (tools/testing/selftests/mm/hmm-tests.c) as scenarios:
 * one per case and fixture variant, named `fixture.variant.case` as kselftest names them, run
 * together by `hmmsim check hmm-tests`.
 */
import type { Scenario } from '../../src/check/scenario.js';
import type { DmirrorVariant } from '../../src/devices/dmirror/index.ts';
import { anonCases } from './cases-anon.ts';
import { migrateCases } from './cases-migrate.ts';
import { defineCase, type CaseSpec } from './harness.ts';

/** Every ported case, in the selftest's order. */
export const hmmTestCaseSpecs: readonly CaseSpec[] = [...anonCases, ...migrateCases];

/** The scenarios of every case on a dmirror of `variant` (the broken ones are for tests). */
export function hmmTests(variant: DmirrorVariant = 'correct'): Scenario[] {
  return hmmTestCaseSpecs.flatMap((c) => defineCase(c, variant));
}

/** The group `hmm-tests`. */
export const hmmTestsGroup: readonly Scenario[] = hmmTests();
