/** The built-in scenario catalogue, in the order `hmmsim list` shows it. */
import type { Scenario } from '../src/check/scenario.js';
import abbaDeadlock from './abba-deadlock.js';
import lockdepAbba from './lockdep-abba.js';
import lockdepCrossRun from './lockdep-cross-run.js';
import lostUpdate from './lost-update.js';
import missedWakeup from './missed-wakeup.js';
import producerConsumer from './producer-consumer.js';
import sLockdepReclaim1 from './mm/s-lockdep-reclaim-1.js';
import notifierOnMm from './mm/notifier-on-mm.js';
import sNonblock1Mm from './mm/s-nonblock-1-mm.js';
import sRegcache1 from './mm/s-regcache-1.js';
import thpSplit from './mm/thp-split.js';
import sHmmRace1 from './legacy-hmm/s-hmm-race-1.js';
import sHmmSeedDriver from './legacy-hmm/s-hmm-seed-driver.js';
import sHmmUnwind from './legacy-hmm/s-hmm-unwind.js';
import sItreeLeak from './notifier/s-itree-leak.js';
import gpuUserptr from './gpu/gpu-userptr.js';
import sLockdepMap1 from './notifier/s-lockdep-map-1.js';
import sNonblock1 from './notifier/s-nonblock-1.js';
import sPair1 from './notifier/s-pair-1.js';
import sSeq from './notifier/s-seq.js';
import { hmmTestsGroup } from './hmm-tests/index.ts';
import hmmMirror from './hmm/hmm-mirror.js';
import gpuSvm from './hmm/gpu-svm.js';

/** Every built-in scenario. */
export const catalogue: readonly Scenario[] = [
  lostUpdate,
  abbaDeadlock,
  producerConsumer,
  missedWakeup,
  lockdepAbba,
  lockdepCrossRun,
  ...sPair1,
  ...sSeq,
  ...sNonblock1,
  ...sLockdepMap1,
  sItreeLeak,
  ...sLockdepReclaim1,
  ...sRegcache1,
  ...sNonblock1Mm,
  ...notifierOnMm,
  ...thpSplit,
  ...hmmMirror,
  ...gpuUserptr,
  ...sHmmRace1,
  ...sHmmSeedDriver,
  ...sHmmUnwind,
  ...gpuSvm,
];

/**
 * Named groups of built-in scenarios outside the default catalogue (heavy suites run on
 * request): `hmmsim check hmm-tests` runs the port of the kernel's HMM selftest.
 */
export const groups: Readonly<Record<string, readonly Scenario[]>> = {
  'hmm-tests': hmmTestsGroup,
};
