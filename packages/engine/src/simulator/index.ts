export { parseScenario, type Scenario, type ScenarioVJob } from './scenario.ts';
export { scenarioSchema, type ScenarioJson } from './scenario-schema.ts';
export {
  simulate,
  DEFAULT_HORIZON_MS,
  DEFAULT_SIMULATION_TIME_LIMIT_MS,
  type SimulationOptions,
  type SimulationResult,
  type UseSegment,
} from './simulator.ts';
