/** The finding kinds the notifier layer reports (besides lockdep's and the engine's). */

/** A subscription got a start and will never get its end (INV-C1), or a caller never ended a start. */
export const UNPAIRED_INVALIDATE = 'unpaired-invalidate';
/** The core itself left the interval step open after a classic -EAGAIN (INV-S9). */
export const KERNEL_ITREE_LEAK = 'kernel-itree-leak';
/** The interval sequence protocol was broken (INV-S1..S8). */
export const SEQUENCE_PROTOCOL = 'sequence-protocol';
/** An interval callback ran after remove returned (INV-S7). */
export const CALLBACK_AFTER_REMOVE = 'callback-after-remove';
/** A classic callback ran after unregister returned (INV-R1). */
export const CALLBACK_AFTER_UNREGISTER = 'callback-after-unregister';
/** The scenario used an API the run's kernel version does not have. */
export const API_UNAVAILABLE = 'api-unavailable';
/** State that should have returned to rest at the end of the run did not (INV-QUIESCE). */
export const QUIESCENCE = 'quiescence';
