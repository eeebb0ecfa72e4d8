/**
 * The deterministic simulator: SWIM cores on an in-memory network in virtual time.
 *
 * ```ts
 * import { Simulator } from "@shoal/swim/sim";
 * import { lanConfig, memberlistCodec } from "@shoal/swim";
 *
 * const sim = new Simulator({ seed: 1, config: lanConfig, codec: memberlistCodec });
 * sim.addNodes(50);
 * sim.runUntil(() => sim.converged(), 60_000);
 * sim.kill("n7");
 * sim.runFor(30_000);
 * ```
 *
 * @module
 */

export { type SimEvent, type SimNode, Simulator, type SimulatorOptions } from "./simulator.ts";
export { VirtualScheduler } from "./scheduler.ts";
export {
  type BroadcastChurnOptions,
  type BroadcastChurnResult,
  broadcastsUnderChurn,
  type ChurnOptions,
  type Quantiles,
} from "./experiments.ts";
export type { MemberView, ViewOptions } from "../core/views.ts";
export { RealScheduler, type Scheduler } from "../transport/scheduler.ts";
