export { readBtrPlaceInstance, type BtrPlaceInstance } from './read-instance.ts';
export { entropyExportContext, exportContextOf, writeBtrPlacePlan, type PlanExportContext } from './write-plan.ts';
