/** Errnos dmirror returns that the locking layer's list does not have. */

/** `ENODEV`: no such device (opening an absent hmm_dmirrorN). */
export const ENODEV = 19;
