/**
 * Loads every command's module without running anything: the launcher's `--write-code-cache` runs this
 * before it asks V8 for the code cache, so the cache holds the compiled code of every module's set-up.
 */
export async function preloadAll(): Promise<void> {
  await Promise.all([
    import('../app/bootstrap.js'),
    import('../app/run.js'),
    import('../app/check.js'),
    import('../app/status.js'),
    import('../app/kubeconfig.js'),
    import('../app/kube-credential.js'),
    import('../app/provision.js'),
    import('../app/token-create.js'),
    import('./version.js'),
  ]);
}
