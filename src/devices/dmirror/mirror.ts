/**
 * One open file of a dmirror device (`struct dmirror`): bound for ever to the opener's mm, with
 * its device page table, its mutex, its flags word, and an interval notifier over the whole
 * address space of that mm (dmirror §1.1). After fork the child's inherited file still mirrors
 * the parent's mm, which is why the selftest opens a fresh file in the child.
 *
 *     open     allocate; mutex; pt; mmu_interval_notifier_insert(mm, 0, ULONG_MAX & PAGE_MASK)
 *     mmap     dmirror_fops_mmap (mmap.ts): zeroed kernel pages, vm_insert_page'd
 *     release  mmu_interval_notifier_remove; evict every chunk of the device (all its memory
 *              comes back to RAM, whoever put it there); destroy the pt
 */
import { Mutex } from '../../locking/mutex.js';
import { mmu_interval_notifier_insert, mmu_interval_notifier_remove } from '../../notifier/interval.js';
import type { World } from '../../sim/world.js';
import { PAGE_SIZE, VA_SPACE_SIZE } from '../../mm/constants.ts';
import type { Mm } from '../../mm/mm-struct.ts';
import type { DmirrorDevice } from './device.ts';
import { DevicePageTable } from './device-pt.ts';
import { DmirrorNotifier } from './notifier.ts';
import { device_file_create } from '../../mm/device-file.ts';
import { dmirror_fops_mmap } from './mmap.ts';

type Gen<T> = Generator<unknown, T, unknown>;

/** Length the notifier covers: the kernel passes ULONG_MAX & PAGE_MASK; the model's space ends at 2^48. */
const WHOLE_SPACE = VA_SPACE_SIZE - PAGE_SIZE;

/** An open file of a dmirror device. */
export class Dmirror {
  readonly mutex: Mutex;
  readonly pt: DevicePageTable;
  readonly notifier: DmirrorNotifier;
  /** HMM_DMIRROR_FLAG_* bits (FLAGS command). */
  flags = 0;
  /** Set by release. */
  closed = false;
  /** The file's id for mmap (dmirror_fops_mmap fills a mapping of it). */
  readonly file: number;

  constructor(
    readonly world: World,
    readonly mdevice: DmirrorDevice,
    readonly mm: Mm,
    readonly name: string,
  ) {
    this.mutex = new Mutex(world, `${name}->mutex`, 'dmirror->mutex');
    this.pt = new DevicePageTable(mm, `${name}->pt`);
    this.notifier = new DmirrorNotifier(this, `${name}->notifier`);
    this.file = device_file_create(world, { name: mdevice.name, mmap: dmirror_fops_mmap });
  }

  /** Inserts the notifier over the whole address space. @returns 0 or an errno. */
  *insert(): Gen<number> {
    return yield* mmu_interval_notifier_insert(this.notifier, this.mm, 0, WHOLE_SPACE);
  }

  /** Removes the notifier (first step of release). */
  *remove(): Gen<void> {
    yield* mmu_interval_notifier_remove(this.notifier);
  }
}
