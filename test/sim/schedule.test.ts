import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeSchedule, encodeSchedule, labelCheck, ScheduleError } from '../../src/sim/schedule.js';

describe('schedule codec', () => {
  it('writes runs of the same task with a check letter and a count', () => {
    const s = encodeSchedule([0, 1, 1, 1, 0], ['x', 'y', 'z', 'z', 'x']);
    expect(s).toMatch(/^1:a[a-zA-Z]b[a-zA-Z]3a[a-zA-Z]$/);
  });

  it('round-trips task choices, keeping the check at the start of each run', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 80 }), fc.string({ maxLength: 6 })), { maxLength: 60 }), (pairs) => {
        const tasks = pairs.map((p) => p[0]);
        const labels = pairs.map((p) => p[1]);
        const d = decodeSchedule(encodeSchedule(tasks, labels));
        expect(d.tasks).toEqual(tasks);
        d.checks.forEach((c, i) => {
          if (i === 0 || tasks[i] !== tasks[i - 1]) expect(c).toBe(labelCheck(labels[i]!));
          else expect(c).toBe(-1);
        });
      }),
    );
  });

  it('uses {n} for task ids past the letters', () => {
    expect(decodeSchedule(encodeSchedule([52, 99], ['a', 'b'])).tasks).toEqual([52, 99]);
  });

  it.each([
    ['avbv2', /must start with '1:'/],
    ['7:ab', /version '7' is not known/],
    ['1:a', /cut short/],
    ['1:a!', /unexpected '!' at character 3/],
    ['1:ab1', /at least 2/],
    ['1:{x}a', /bad task number/],
    ['1:#a', /unexpected '#'/],
  ])('rejects %s with a message that says what is wrong', (text, msg) => {
    expect(() => decodeSchedule(text)).toThrow(ScheduleError);
    expect(() => decodeSchedule(text)).toThrow(msg);
  });
});
