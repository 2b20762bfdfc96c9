/** Build information; the bundle replaces these constants at build time (scripts/build.mjs). */
declare const __VPA_VERSION__: string | undefined;
declare const __VPA_COMMIT__: string | undefined;
declare const __VPA_BUILT__: string | undefined;

export const VERSION = typeof __VPA_VERSION__ === 'string' ? __VPA_VERSION__ : '0.0.0-dev';
export const COMMIT = typeof __VPA_COMMIT__ === 'string' ? __VPA_COMMIT__ : 'unknown';
export const BUILT = typeof __VPA_BUILT__ === 'string' ? __VPA_BUILT__ : 'unbuilt';
