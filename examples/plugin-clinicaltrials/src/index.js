// The plugin's `bucketwright:sources` hook (declared in package.json "oclif.hooks"). bucketwright calls it with its
// core API in `options.core`; the plugin returns its data sources. Plain JavaScript ESM: no build step.
import {clinicalTrialsSource} from './source.js'

/**
 * @param {import('bucketwright/core').SourcesHookOptions} options
 * @returns {Promise<import('bucketwright/core').DataSource[]>}
 */
export default async function sources({core}) {
  return [clinicalTrialsSource(core)]
}
