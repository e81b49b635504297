export { INSTANCE_FORMATS, readInstanceAs, type FormattedInstance, type InstanceFormat } from './instance-format.ts';
export { readBtrPlaceInstance, type BtrPlaceInstance } from './read-instance.ts';
export {
  btrplaceImportContext,
  entropyImportContext,
  isBtrPlacePlan,
  readBtrPlacePlan,
  type PlanImportContext,
} from './read-plan.ts';
export { entropyExportContext, exportContextOf, writeBtrPlacePlan, type PlanExportContext } from './write-plan.ts';
