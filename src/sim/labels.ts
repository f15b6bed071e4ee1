/**
 * Point labels made once, not once per run.
 *
 * The explorer re-creates a scenario's objects for every run, and objects such as locks and wait
 * queues name their points after themselves (`mutex_lock(dev->lock)`, `woken from memory`).
 * Formatting those labels in every constructor or at every point would allocate the same strings
 * again millions of times. These functions return the one string for an operation on a name: the
 * same name gives the same string in every run, so nothing is allocated after the first run.
 */

/** Labels by prefix, then suffix, then object name. */
const byForm = new Map<string, Map<string, Map<string, string>>>();
/** More distinct names than this for one form and its cache starts over (names made from run data). */
const MAX_NAMES_PER_FORM = 65_536;

/** `${prefix}${name}${suffix}`, made once per distinct triple; looking it up allocates nothing. */
export function nameLabel(prefix: string, name: string, suffix: string): string {
  let suffixes = byForm.get(prefix);
  if (suffixes === undefined) {
    suffixes = new Map();
    byForm.set(prefix, suffixes);
  }
  let names = suffixes.get(suffix);
  if (names === undefined) {
    names = new Map();
    suffixes.set(suffix, names);
  }
  let label = names.get(name);
  if (label === undefined) {
    if (names.size >= MAX_NAMES_PER_FORM) names.clear();
    label = prefix + name + suffix;
    names.set(name, label);
  }
  return label;
}

/** Call-form labels by operation, then name. */
const byOp = new Map<string, Map<string, string>>();

/** `${op}(${name})`, or `${op}${name}` when `op` ends with a space; made once per pair. */
export function opLabel(op: string, name: string): string {
  let names = byOp.get(op);
  if (names === undefined) {
    names = new Map();
    byOp.set(op, names);
  }
  let label = names.get(name);
  if (label === undefined) {
    if (names.size >= MAX_NAMES_PER_FORM) names.clear();
    label = op.endsWith(' ') ? op + name : `${op}(${name})`;
    names.set(name, label);
  }
  return label;
}
