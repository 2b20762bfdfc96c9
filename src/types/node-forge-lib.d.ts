// node-forge's per-feature entry points (the package index loads all of forge, ~300 KB in the bundle).
declare module 'node-forge/lib/forge.js' {
  import type forge from 'node-forge';

  const base: typeof forge;
  export default base;
}
declare module 'node-forge/lib/asn1.js';
