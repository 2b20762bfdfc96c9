/** Public surface of the config module. */
export { type ConfigFacts, type ParseConfigOptions, parseConfig } from './parse-config.js';
export {
  type CaName,
  defaultMountNaming,
  expandPreset,
  isPresetName,
  listPresetRoles,
  NODE_TYPE_NAMES,
  NODE_TYPES,
  type NodeType,
  PRESET_NAMES,
  PRESETS,
  type PresetDefinition,
  type PresetName,
  type PresetParams,
  type PresetResult,
  type PresetRole,
  splitSans,
} from './presets.js';
export { DEFAULTS } from './resolve.js';
export { normaliseIp } from './validate.js';
export { expandVariables, needsEc2, VARIABLE_NAMES, type VariableFacts } from './variables.js';
