// zod's namespace re-exports every locale; the agent's messages are English only.
export { default as en } from 'zod/v4/locales/en.js';
