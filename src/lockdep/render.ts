/**
 * Kernel-shaped text for reports (spec §15, §16). Titles are verbatim (users
 * and tests grep them); the body follows the kernel's layout, with simulator
 * steps, stack labels and run labels where the kernel prints addresses.
 */
import type {
  CircularReport,
  DependencyLink,
  LockDesc,
  LockdepReport,
  RecursiveReport,
  SleepReport,
} from './reports.ts';
import type { WhereSnapshot } from './where.ts';

const CPU1_COL = ' '.repeat(31);

/** Renders any report as kernel-style text (trailing newline included). */
export function renderReport(r: LockdepReport): string {
  const out: string[] = [];
  switch (r.kind) {
    case 'lockdep-circular':
      renderCircular(r, out);
      break;
    case 'lockdep-recursive':
      renderRecursive(r, out);
      break;
    case 'lockdep-bad-unlock':
      banner(r, out);
      out.push(`${who(r.where)} is trying to release lock (${r.lock.className}) at:`);
      out.push(`${site(r.where)}`);
      out.push('but there are no more locks to release!', '', 'other info that might help us debug this:');
      heldAndStack(r, out);
      break;
    case 'lockdep-held-freed':
      banner(r, out);
      out.push(
        `${who(r.where)} is ${r.action === 'free' ? 'freeing memory' : 're-initialising a lock'} (${r.lock.instance}), with a lock still held there!`,
      );
      out.push(lockLine(r.lock));
      if (r.holderTask.id !== r.where.taskId) out.push(`held by ${r.holderTask.name}/${r.holderTask.id}`);
      heldAndStack(r, out);
      break;
    case 'lockdep-held-at-exit':
      banner(r, out);
      out.push(`${who(r.where)} is exiting with locks still held!`);
      heldAndStack(r, out);
      break;
    case 'lockdep-nested-not-taken':
      banner(r, out);
      out.push(`${who(r.where)} is trying to acquire lock:`, lockLine(r.trying), '');
      out.push(`but this task is not holding:`, r.nestLock);
      heldAndStack(r, out);
      break;
    case 'lockdep-limit':
      out.push(r.title, r.message, `turning off the locking correctness validator.`);
      heldAndStack(r, out);
      break;
    case 'lockdep-debug-warn':
      banner(r, out);
      out.push(`DEBUG_LOCKS_WARN_ON(${r.condition})`, r.message);
      heldAndStack(r, out);
      break;
    case 'lockdep-wait-context':
      banner(r, out);
      out.push(`${who(r.where)} is trying to lock:`, `${lockLine(r.trying)} ${r.tryingWait}`);
      out.push(`other info that might help us debug this:`, `context-${r.contextWait} set by ${r.context}`);
      heldAndStack(r, out);
      break;
    case 'lockdep-inconsistent':
    case 'lockdep-irq-inversion':
    case 'lockdep-irq-safe-unsafe':
      banner(r, out);
      out.push(`${who(r.where)} is trying to acquire lock:`, lockLine(r.trying), '', r.message, '');
      if (r.kind === 'lockdep-inconsistent') {
        out.push('other info that might help us debug this:', ' Possible unsafe locking scenario:', '', '       CPU0', '       ----');
        out.push(`  lock(${r.trying.className});`, '  <Interrupt>', `    lock(${r.trying.className});`, '', ' *** DEADLOCK ***', '');
      }
      heldAndStack(r, out);
      break;
    case 'sleep-in-atomic':
      renderSleep(r, out);
      break;
    case 'non-block-imbalance':
      out.push(`${r.title} at ${site(r.where)}`, `${who(r.where)}, step ${r.where.step}, run "${r.where.runLabel}"`);
      out.push('stack backtrace:', ...stackLines(r.where));
      break;
  }
  offNote(r, out);
  return out.join('\n') + '\n';
}

function renderCircular(r: CircularReport, out: string[]): void {
  banner(r, out);
  out.push(`${who(r.where)} is trying to acquire lock:`, lockLine(r.trying), '');
  out.push('but task is already holding lock:', lockLine(r.holding), '');
  out.push('which lock already depends on the new lock.', '', '');
  out.push('the existing dependency chain (in reverse order) is:', '');
  for (const l of r.links) linkBlock(l, out);
  out.push('other info that might help us debug this:', '');
  if (r.chainExists !== null) out.push('Chain exists of:', `  ${r.chainExists.join(' --> ')}`, '');
  const s = r.scenario;
  out.push(' Possible unsafe locking scenario:', '');
  out.push('       CPU0                    CPU1', '       ----                    ----');
  out.push(`  ${s.cpu0First};`, `${CPU1_COL}${s.cpu1First};`, `${CPU1_COL}${s.cpu1Second};`, `  ${s.cpu0Second};`);
  out.push('', ' *** DEADLOCK ***', '');
  if (r.runs.length > 1) out.push(`note: the dependencies of this cycle were recorded in runs ${r.runs.map((x) => `"${x}"`).join(', ')}`);
  for (const n of r.fakeNotes) out.push(`note: ${n}`);
  if (r.hint !== null) out.push(`hint: ${r.hint}`);
  if (r.runs.length > 1 || r.fakeNotes.length > 0 || r.hint !== null) out.push('');
  heldAndStack(r, out);
}

function renderRecursive(r: RecursiveReport, out: string[]): void {
  banner(r, out);
  out.push(`${who(r.where)} is trying to acquire lock:`, lockLine(r.trying), '');
  out.push('but task is already holding lock:', lockLine(r.holding), '');
  if (r.links.length > 0) {
    out.push('the existing dependency chain (in reverse order) is:', '');
    for (const l of r.links) linkBlock(l, out);
  }
  out.push('other info that might help us debug this:', ' Possible unsafe locking scenario:', '');
  out.push('       CPU0', '       ----');
  out.push(`  ${lockOp(r.holding)};`, `  ${lockOp(r.trying)};`);
  out.push('', ' *** DEADLOCK ***', '', ' May be due to missing lock nesting notation', '');
  heldAndStack(r, out);
}

function renderSleep(r: SleepReport, out: string[]): void {
  out.push(`${r.title} at ${r.site}`);
  out.push(
    `in_atomic(): ${r.inAtomic ? 1 : 0}, irqs_disabled(): ${r.irqsDisabled ? 1 : 0}, non_block: ${r.nonBlock}, pid: ${r.where.taskId}, name: ${r.where.taskName}`,
  );
  out.push(`preempt_count: ${r.preemptCount}, expected: 0`);
  out.push(`step ${r.where.step}, run "${r.where.runLabel}"`);
  if (r.spinLocks.length > 0) out.push(`spinning locks held: ${r.spinLocks.join(', ')}`);
  if (!r.heldTracked) out.push('(lockdep is off: held locks are not tracked)');
  heldAndStack(r, out);
}

function linkBlock(l: DependencyLink, out: string[]): void {
  out.push(`-> #${l.index} (${l.lock}){${l.kinds.join(',')}}:`);
  const e = l.established;
  out.push(
    l.current
      ? `       acquired now while holding ${l.after}, by ${e.taskName} at step ${e.step}, run "${e.runLabel}":`
      : `       first acquired while holding ${l.after}, by ${e.taskName} at step ${e.step}, run "${e.runLabel}":`,
  );
  if (e.alloc !== undefined) {
    const scopes = e.alloc.scopes.length > 0 ? ` in scope ${e.alloc.scopes.join(', ')}` : '';
    out.push(`       (for an allocation with ${e.alloc.gfp}${scopes})`);
  }
  out.push(...stackLines(e), '');
}

function banner(r: LockdepReport, out: string[]): void {
  const n = Math.max(54, r.title.length);
  out.push('='.repeat(n), r.title, `hmmsim lockdep: run "${r.where.runLabel}", step ${r.where.step}`, '-'.repeat(n));
}

function heldAndStack(r: LockdepReport, out: string[]): void {
  const h = r.heldLocks;
  if (h.length === 0) out.push(`no locks held by ${who(r.where)}.`);
  else {
    out.push(`${h.length} lock${h.length > 1 ? 's' : ''} held by ${who(r.where)}:`);
    h.forEach((d, i) => out.push(` #${i}: ${lockLine(d)}`));
  }
  out.push('', 'stack backtrace:', ...stackLines(r.where));
}

function offNote(r: LockdepReport, out: string[]): void {
  if (r.validationOff === 'run') {
    out.push('', `note: first lockdep problem of run "${r.where.runLabel}"; lock validation is off for the rest of this run.`);
  } else if (r.validationOff === 'scope') {
    out.push('', 'note: first lockdep problem; lock validation is off until the validator is reset.');
  }
}

function who(w: WhereSnapshot): string {
  return `${w.taskName}/${w.taskId}`;
}

function site(w: WhereSnapshot): string {
  return w.stack.length > 0 ? w.stack[w.stack.length - 1]! : `step ${w.step}`;
}

function stackLines(w: WhereSnapshot): string[] {
  const lines: string[] = [];
  for (let i = w.stack.length - 1; i >= 0; i--) lines.push(`       ${w.stack[i]}`);
  if (lines.length === 0) lines.push('       (no stack labels)');
  return lines;
}

const MODE = ['', '{read}', '{recursive read}'];

function lockLine(d: LockDesc): string {
  const at = d.step >= 0 ? `, at: step ${d.step}` : '';
  return `${d.instance}@${d.instanceId} (${d.className})${MODE[d.read] ?? ''}${at}`;
}

function lockOp(d: LockDesc): string {
  return `${d.read !== 0 ? 'rlock' : 'lock'}(${d.className})`;
}
