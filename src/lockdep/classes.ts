/**
 * Lock classes (spec §2): graph nodes identified by (key, subclass), numbered
 * densely so the hot path can use integer ids and typed arrays.
 */
import { type LockClassKey, type LockdepMap, MAX_LOCKDEP_SUBCLASSES, type WaitType } from './map.ts';

/** One lock class. */
export interface LockClass {
  /** Dense id (index in `ClassTable.list`). */
  readonly id: number;
  /** Class key. */
  readonly key: LockClassKey;
  /** Subclass 0..7. */
  readonly subclass: number;
  /** The key itself for string keys, else the instance name of the map that registered the class. */
  readonly baseName: string;
  /** 1 for the first key with this name, 2, 3… for other keys sharing it (#k suffix). */
  readonly version: number;
  /** Printable name: base, `#version` when > 1, `/subclass` when > 0. */
  readonly name: string;
  /** Wait type of the registering map. */
  readonly wait: WaitType;
  /** Fake-map meaning copied from the registering map. */
  readonly fakeNote: string | undefined;
}

let nextGeneration = 1;

/** The class registry of one dependency graph. */
export class ClassTable {
  /** All classes, indexed by id. */
  readonly list: LockClass[] = [];
  /**
   * Unique across all tables and resets, stamped into maps' class caches.
   * @internal
   */
  gen = nextGeneration++;
  /** Stamp of the current run, for numbering lock instances per run. */
  private runStamp = nextGeneration++;
  private instances = 0;
  private readonly byKey = new Map<LockClassKey, Int32Array>();
  /** name -> (key -> version), to number distinct keys sharing a printable name. */
  private readonly versions = new Map<string, Map<LockClassKey, number>>();

  /** Starts numbering lock instances afresh (called at every run). */
  newRun(): void {
    this.runStamp = nextGeneration++;
    this.instances = 0;
  }

  /**
   * The instance number a report shows for `map` (`name@N`): assigned in order of first mention
   * within the run, so the same schedule prints the same numbers whatever ran before it.
   */
  instanceId(map: LockdepMap): number {
    if (map._idStamp !== this.runStamp) {
      map._idStamp = this.runStamp;
      map.id = ++this.instances;
    }
    return map.id;
  }

  /** Number of registered classes. */
  get size(): number {
    return this.list.length;
  }

  /**
   * Class id of `map` with `subclass`, registering it on first use. Callers
   * validate `subclass` (< {@link MAX_LOCKDEP_SUBCLASSES}) beforehand.
   */
  lookup(map: LockdepMap, subclass: number): number {
    if (subclass === map.subclass && map._gen === this.gen) return map._cls;
    let slots = this.byKey.get(map.key);
    if (slots === undefined) {
      slots = new Int32Array(MAX_LOCKDEP_SUBCLASSES).fill(-1);
      this.byKey.set(map.key, slots);
    }
    let id = slots[subclass]!;
    if (id < 0) {
      id = this.register(map, subclass);
      slots[subclass] = id;
    }
    if (subclass === map.subclass) {
      map._gen = this.gen;
      map._cls = id;
    }
    return id;
  }

  /** Class id for `map` if it was registered, else -1 (never registers). */
  peek(map: LockdepMap, subclass: number): number {
    if (subclass === map.subclass && map._gen === this.gen) return map._cls;
    const slots = this.byKey.get(map.key);
    return slots === undefined ? -1 : slots[subclass]!;
  }

  /** Forgets every class (a new generation invalidates all map caches). */
  clear(): void {
    this.list.length = 0;
    this.byKey.clear();
    this.versions.clear();
    this.gen = nextGeneration++;
  }

  private register(map: LockdepMap, subclass: number): number {
    // A string key names its class; an object key takes the first map's name.
    const baseName = typeof map.key === 'string' ? map.key : map.name;
    // Subclasses of one key share the base name and its version, as in the kernel.
    let perName = this.versions.get(baseName);
    if (perName === undefined) {
      perName = new Map();
      this.versions.set(baseName, perName);
    }
    let version = perName.get(map.key);
    if (version === undefined) {
      version = perName.size + 1;
      perName.set(map.key, version);
    }
    const name = baseName + (version > 1 ? `#${version}` : '') + (subclass > 0 ? `/${subclass}` : '');
    const id = this.list.length;
    this.list.push({
      id,
      key: map.key,
      subclass,
      baseName,
      version,
      name,
      wait: map.wait,
      fakeNote: map.fakeNote,
    });
    return id;
  }
}
