// Codec modules a bundle carries, by message name: empty in the module tree,
// where compiled.ts requires each from COMPILED_CODECS. The CLI's bundle
// (apps/cli/build-bundle.js) replaces this module with the codecs of its hot
// calls, so a `berth run` reads no codec file (it needs 20 of them).
export const BUNDLED_CODECS: Readonly<Record<string, () => unknown>> = {};
