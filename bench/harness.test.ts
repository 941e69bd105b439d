import {existsSync} from 'node:fs'
import {afterEach, describe, expect, it} from 'vitest'

import {benchRounds, compare, type Contender, cpuLabel, fasterLabel, formatResult, measureChild, median, roundOrder} from './harness.js'

describe('median', () => {
  it('is the middle value of an odd count, whatever the input order', () => {
    expect(median([9, 1, 5])).toBe(5)
    expect(median([3])).toBe(3)
  })

  it('is the mean of the two middle values of an even count (not the upper one)', () => {
    expect(median([1, 2, 3, 10])).toBe(2.5)
    expect(median([4, 1])).toBe(2.5)
  })

  it('is NaN for no values, and leaves the input unsorted', () => {
    expect(median([])).toBeNaN()
    const values = [3, 1, 2]
    median(values)
    expect(values).toEqual([3, 1, 2])
  })
})

describe('roundOrder', () => {
  it('alternates two contenders: A B, B A, A B', () => {
    expect([0, 1, 2].map((round) => roundOrder(['A', 'B'], round).join(' '))).toEqual(['A B', 'B A', 'A B'])
  })

  it('rotates any number, so that over n rounds each contender runs once in each position', () => {
    const orders = [0, 1, 2, 3].map((round) => roundOrder(['A', 'B', 'C', 'D'], round))
    expect(orders.map((order) => order.join(''))).toEqual(['ABCD', 'BCDA', 'CDAB', 'DABC'])
    for (let position = 0; position < 4; position++) expect(new Set(orders.map((order) => order[position])).size).toBe(4)
  })
})

describe('labels', () => {
  it('name the faster contender first, with a factor of at least 1, whichever side it is on', () => {
    expect(fasterLabel({name: 'bucketwright', rate: 13}, {name: 'rclone', rate: 10})).toBe('bucketwright 1.30× faster than rclone')
    expect(fasterLabel({name: 'bucketwright', rate: 10}, {name: 'rclone', rate: 13})).toBe('rclone 1.30× faster than bucketwright')
    expect(fasterLabel({name: 'bucketwright', rate: 250}, {name: 'reference', rate: 10})).toBe('bucketwright 25.0× faster than reference')
  })

  it('call a tie a tie, and say when a figure is missing', () => {
    expect(fasterLabel({name: 'a', rate: 10.01}, {name: 'b', rate: 10})).toBe('a and b equally fast (1.00×)')
    expect(fasterLabel({name: 'a', rate: Number.NaN}, {name: 'b', rate: 10})).toBe('a vs b: no figure')
  })

  it('name who needs less CPU per MB', () => {
    expect(cpuLabel({name: 'bucketwright', cpuPerMb: 0.2}, {name: 'rclone', cpuPerMb: 0.3})).toBe('bucketwright 1.50× less CPU per MB than rclone')
    expect(cpuLabel({name: 'bucketwright', cpuPerMb: 0.3}, {name: 'rclone', cpuPerMb: 0.2})).toBe('rclone 1.50× less CPU per MB than bucketwright')
  })
})

describe('benchRounds', () => {
  const lines: string[] = []
  const warn = (line: string) => lines.push(line)
  afterEach(() => void lines.splice(0))

  it('reads ROUNDS, default 5', () => {
    expect(benchRounds({}, [], warn)).toBe(5)
    expect(benchRounds({ROUNDS: '1'}, [], warn)).toBe(1)
    expect(lines).toEqual([])
  })

  it('reads an old name when ROUNDS is unset, saying it is deprecated; ROUNDS wins over it', () => {
    expect(benchRounds({BENCH_ROUNDS: '3'}, [], warn)).toBe(3)
    expect(benchRounds({ROUNDS: '2', RUNS: '7'}, [], warn)).toBe(2)
    expect(lines).toEqual(['BENCH_ROUNDS is deprecated: use ROUNDS=3 (read as ROUNDS this time).', 'RUNS is deprecated and ignored: ROUNDS=2 is set.'])
  })

  it('refuses nonsense and the old --rounds argument', () => {
    expect(() => benchRounds({ROUNDS: '0'}, [], warn)).toThrow(/ROUNDS must be/)
    expect(() => benchRounds({ROUNDS: '2.5'}, [], warn)).toThrow(/ROUNDS must be/)
    expect(() => benchRounds({}, ['--rounds', '3'], warn)).toThrow(/set ROUNDS instead/)
  })
})

describe('compare', () => {
  afterEach(() => void (process.exitCode = undefined))

  it('runs the rounds in rotated order and reports medians, per-round figures and labelled ratios', async () => {
    const calls: string[] = []
    // ours takes 1, 2, 3 s over the rounds, the peer always 4 s; both cost 1 CPU-s per 10 MB.
    const contender = (name: string, seconds: (round: number) => number): Contender => ({
      name,
      run: async (round) => {
        calls.push(`${round}:${name}`)
        return {seconds: seconds(round), cpuSeconds: name === 'ours' ? 1 : 2}
      },
    })
    const result = await compare({title: 't', log: () => {}, work: {bytes: 10e6, items: 100, itemUnit: 'files'}, rounds: 3, warmup: 1, contenders: [contender('ours', (round) => round + 1), contender('peer', () => 4)]})
    expect(calls).toEqual(['-1:ours', '-1:peer', '0:ours', '0:peer', '1:peer', '1:ours', '2:ours', '2:peer'])
    const [ours, peer] = result.contenders
    expect(ours.seconds).toBe(2)
    expect(ours.mbPerSecond).toBe(5)
    expect(ours.itemsPerSecond).toBe(50)
    expect(ours.cpuPerMb).toBeCloseTo(0.1)
    expect(peer.runs.map((run) => run.seconds)).toEqual([4, 4, 4])
    expect(result.pairs[0].faster).toBe('ours 2.00× faster than peer')
    expect(result.pairs[0].cpu).toBe('ours 2.00× less CPU per MB than peer')
    expect(result.pairs[0].perRound).toEqual(['ours 4.00×', 'ours 2.00×', 'ours 1.33×'])
    const text = formatResult(result)
    expect(text).toContain('ours 2.00× faster than peer; ours 2.00× less CPU per MB than peer')
    expect(text).toContain('1: 1.00 / 0.100   2: 2.00 / 0.100   3: 3.00 / 0.100')
  })

  it('labels only the pairs whose contenders are there (a peer that is not installed is left out)', async () => {
    const steady = (name: string, seconds: number): Contender => ({name, run: async () => ({seconds, cpuSeconds: 1})})
    const result = await compare({
      title: 't',
      log: () => {},
      work: {bytes: 1e6},
      rounds: 1,
      contenders: [steady('ours', 1), steady('aws', 3)],
      pairs: [
        ['ours', 'rclone'],
        ['ours', 'aws'],
      ],
    })
    expect(result.pairs.map((pair) => pair.faster)).toEqual(['ours 3.00× faster than aws'])
  })

  it('records a failed run, keeps going with the others, and marks the process failed', async () => {
    const result = await compare({
      title: 't',
      log: () => {},
      work: {bytes: 1e6},
      rounds: 2,
      contenders: [
        {name: 'flaky', run: async (round) => (round === 0 ? Promise.reject(new Error('boom')) : {seconds: 1, cpuSeconds: 1})},
        {name: 'steady', run: async () => ({seconds: 2, cpuSeconds: 1})},
      ],
    })
    expect(result.contenders[0].failures).toEqual(['round 1: boom'])
    expect(result.contenders[0].runs).toHaveLength(1)
    expect(result.contenders[1].runs).toHaveLength(2)
    expect(process.exitCode).toBe(1)
  })
})

describe('measureChild', () => {
  // The child burns CPU until its own clock says 0.4 s, so the lower bound holds however busy the machine is.
  const burn = 'const t = process.cpuUsage(); while ((process.cpuUsage(t).user + process.cpuUsage(t).system) < 4e5);'
  const accountings = existsSync('/usr/bin/time') ? (['proc', 'time'] as const) : (['proc'] as const)

  it.each(accountings)('counts the CPU of the child and of the children it waited for (%s)', async (accounting) => {
    const direct = await measureChild(process.execPath, ['-e', burn], {accounting})
    expect(direct.status).toBe(0)
    expect(direct.cpuSeconds).toBeGreaterThanOrEqual(0.39)
    // bin/run.js on an old Node re-runs itself on Node 24 and waits: the grandchild's CPU belongs to the run.
    const nested = await measureChild(process.execPath, ['-e', `require('node:child_process').spawnSync(process.execPath, ['-e', ${JSON.stringify(burn)}], {stdio: 'inherit'})`], {accounting})
    expect(nested.cpuSeconds).toBeGreaterThanOrEqual(0.39)
    if (accounting === 'time') expect(nested.peakRssMb).toBeGreaterThan(10)
  })

  it('counts CPU, not wall time: a child that sleeps costs little', async () => {
    const run = await measureChild(process.execPath, ['-e', 'setTimeout(() => {}, 1500)'])
    expect(run.seconds).toBeGreaterThanOrEqual(1.5)
    expect(run.cpuSeconds).toBeLessThan(run.seconds / 2)
  })

  it('returns a failed command with its status and output instead of throwing', async () => {
    const run = await measureChild(process.execPath, ['-e', 'process.stdout.write("out"); process.stderr.write("err"); process.exit(3)'])
    expect(run).toMatchObject({status: 3, stdout: 'out', stderr: 'err'})
  })
})
