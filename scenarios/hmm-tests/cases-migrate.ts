import type { CaseSpec } from './harness.ts';
export const migrateCases: readonly CaseSpec[] = [];
