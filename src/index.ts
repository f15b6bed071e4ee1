/**
 * hmmsim's public API: what scenario files and driver models import.
 *
 * Everything not exported here is internal and may change.
 */
export { defineScenario, ScenarioError } from './check/scenario.js';
export type { CheckContext, Scenario, ScenarioDefinition, ScenarioTask } from './check/scenario.js';
export { Access } from './sim/point.js';
export type { SimObject } from './sim/point.js';
export { World } from './sim/world.js';
export type { SpawnOptions } from './sim/world.js';
export { WaitQueue } from './sim/waitqueue.js';
export type { Task, TaskBody } from './sim/task.js';
export { FindingKind } from './sim/finding.js';
export type { Finding } from './sim/finding.js';
