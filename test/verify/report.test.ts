import {existsSync} from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import {pathToFileURL} from 'node:url'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {LocalStorage} from '../../src/plugins/core/storage/local.js'
import {type VerifyResult} from '../../src/plugins/core/verify/result.js'
import {ROOT, runInProcess} from '../helpers/cli.js'
import {buildDataset, linkTinybusPlugin, removeTempDirs, rewriteOutput, tempDir} from './helpers.js'

afterAll(removeTempDirs)

const CHROMIUM = '/usr/bin/chromium'
const hasChromium = existsSync(CHROMIUM)
if (!hasChromium) {
  console.warn(`\n${'!'.repeat(78)}\n!! SKIPPED: the HTML report test needs Debian's chromium at ${CHROMIUM}.\n!! Install it with: apt-get install -y chromium\n${'!'.repeat(78)}\n`)
}

describe.skipIf(!hasChromium)('verify --report in headless Chromium', () => {
  beforeAll(async () => {
    await linkTinybusPlugin()
  })

  it('renders a bar per bucket, the missing week marked in red, offline', async () => {
    const root = await tempDir()
    const raw = new LocalStorage(path.join(root, 'archive'))
    const output = new LocalStorage(path.join(root, 'v2'))
    const dataset = await buildDataset(raw, output, {weeks: 8, objectsPerWeek: 4})
    const gone = dataset.weeks[3]!
    const duplicated = dataset.weeks[5]!
    await output.delete([dataset.outputKey(gone), `_manifests/${dataset.outputKey(gone)}.json`])
    await rewriteOutput(output, dataset.outputKey(duplicated), (lines) => [...lines, ...lines.slice(0, 5)], {updateManifest: true})
    const report = path.join(root, 'report.html')
    const run = await runInProcess<VerifyResult>(['verify', output.pathOf(''), '--raw', raw.pathOf(''), '--source', 'tinybus', '--json', '--report', report])
    expect(run.exitCode).toBe(3)
    expect(run.result!.report).toBe(report)

    const {chromium} = await import('playwright-core')
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    })
    try {
      const page = await browser.newPage({viewport: {width: 1280, height: 1000}})
      const requests: string[] = []
      page.on('request', (request) => requests.push(request.url()))
      await page.goto(pathToFileURL(report).href)
      // Offline: the page asks for nothing but itself.
      expect(requests).toEqual([pathToFileURL(report).href])

      const bars = page.locator('#records-chart rect.bar')
      expect(await bars.count()).toBe(dataset.weeks.length)
      expect(await bars.evaluateAll((nodes) => nodes.map((node) => node.getAttribute('data-bucket')))).toEqual(dataset.weeks)
      const missing = page.locator(`#records-chart rect.bar[data-bucket="${gone}"]`)
      expect(await missing.getAttribute('data-status')).toBe('missing')
      expect(await missing.evaluate((node) => getComputedStyle(node).stroke)).toBe('rgb(217, 45, 32)')
      const missingBox = (await missing.boundingBox())!
      expect(missingBox.height).toBeGreaterThan(100)
      const failed = page.locator(`#records-chart rect.bar[data-bucket="${duplicated}"]`)
      expect(await failed.evaluate((node) => getComputedStyle(node).fill)).toBe('rgb(217, 45, 32)')
      const healthy = page.locator(`#records-chart rect.bar[data-bucket="${dataset.weeks[0]}"]`)
      expect(await healthy.evaluate((node) => getComputedStyle(node).fill)).toBe('rgb(46, 144, 250)')
      // Bars scale with records: the duplicated week (5 extra records) is the tallest.
      expect((await failed.boundingBox())!.height).toBeGreaterThan((await healthy.boundingBox())!.height)

      expect(await page.locator('#verdict').textContent()).toMatch(/^FAILED: 3 check\(s\)/)
      expect(await page.locator('#checks tr.check.fail td:nth-child(2)').allTextContents()).toEqual(['raw-counts', 'missing-buckets', 'duplicates'])
      expect(await page.locator('#checks tr[data-check="missing-buckets"]').textContent()).toContain(`${gone} (no output between`)

      await fs.mkdir(path.join(ROOT, 'test-artifacts'), {recursive: true})
      await page.screenshot({path: path.join(ROOT, 'test-artifacts', 'verify-report.png'), fullPage: true})
    } finally {
      await browser.close()
    }
  })
})
