import t from 'tap'
import { InFlight } from '../../lib/proxy/in-flight.js'

t.test('requests in flight are counted per hostname and in total, and a hostname is idle only when its count falls to zero', async t => {
  const idle: string[] = []
  const load = new InFlight(hostname => idle.push(hostname))
  load.inc('a')
  load.inc('a')
  load.inc('b')
  t.same([load.get('a'), load.get('b'), load.get('c'), load.total], [2, 1, 0, 3])
  load.dec('a')
  t.same([load.get('a'), load.total], [1, 2], 'one of two out: one left')
  t.same(idle, [], 'not idle while one is in flight')
  t.same(load.entries(), [['a', 1], ['b', 1]])
  load.dec('a')
  t.same([load.get('a'), load.total], [0, 1])
  t.same(idle, ['a'], 'idle at zero')
  t.same(load.entries(), [['b', 1]], 'an idle hostname is forgotten')
  load.dec('b')
  t.same(idle, ['a', 'b'])
  t.same(load.entries(), [])
})

t.test('without an idle listener a count still falls to zero', async t => {
  const load = new InFlight()
  load.inc('a')
  load.dec('a')
  t.same([load.get('a'), load.total, load.entries()], [0, 0, []])
})
