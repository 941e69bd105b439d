// The plugin's `bucketwright:sources` hook (declared in package.json "oclif.hooks"). bucketwright calls it with its
// source kit (`bucketwright/sources`) in `options.core`; the plugin returns its data sources. Plain JavaScript ESM:
// no build step.
import {clinicalTrialsSource} from './source.js'

/**
 * @param {import('bucketwright/sources').SourcesHookOptions} options
 * @returns {Promise<import('bucketwright/sources').DataSource[]>}
 */
export default async function sources({core}) {
  return [clinicalTrialsSource(core)]
}
