// Types of plan.mjs (plain JS so workerd can import it unbundled), for the type-checked test that imports it.
import type * as Planner from '../../../src/planner';
import type { PlannerWasm } from '../../../src/planner';

/** Every planner result of one seed, as the hex of its bytes. */
export function plan(api: typeof Planner, wasm: PlannerWasm, seed: number): Record<string, string | boolean>;
