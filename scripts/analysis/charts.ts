import * as vega from 'vega'
import { type TopLevelSpec, compile } from 'vega-lite'

/** Renders a vega-lite spec to SVG text headless: vega's 'none' renderer needs no canvas or browser. */
export async function renderSvg (spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

/** What every chart here shares: the vega-lite version, a title, its size and a white background (for the README). */
function frame (title: string, width = 320): { $schema: string, title: string, width: number, height: number, background: string } {
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title, width, height: 220, background: 'white' }
}

/** requests per replica at one N, with the ideal share as a rule. */
export function perReplicaBars (title: string, counts: Array<{ replica: string, requests: number }>, total: number): TopLevelSpec {
  const ideal = total / counts.length
  return {
    ...frame(title),
    layer: [
      {
        data: { values: counts },
        mark: { type: 'bar', tooltip: true },
        encoding: {
          x: { field: 'replica', type: 'nominal', sort: null, title: 'replica', axis: { labelAngle: 0 } },
          y: { field: 'requests', type: 'quantitative', title: 'requests', scale: { domain: [0, total] } },
          color: { field: 'replica', type: 'nominal', legend: null }
        }
      },
      {
        data: { values: [{ ideal }] },
        mark: { type: 'rule', strokeDash: [4, 4], color: 'black' },
        encoding: { y: { field: 'ideal', type: 'quantitative' } }
      },
      {
        data: { values: counts },
        mark: { type: 'text', dy: -6 },
        encoding: {
          x: { field: 'replica', type: 'nominal', sort: null },
          y: { field: 'requests', type: 'quantitative' },
          text: { field: 'requests', type: 'quantitative' }
        }
      }
    ]
  }
}

export interface LoadRow { N: number, mean: number, min: number, max: number }

/** mean, min and max requests per replica for each N. */
export function loadLines (title: string, rows: LoadRow[], total: number): TopLevelSpec {
  const values = rows.flatMap(r => [
    { N: r.N, statistic: 'max', requests: r.max },
    { N: r.N, statistic: 'mean', requests: r.mean },
    { N: r.N, statistic: 'min', requests: r.min }
  ])
  return {
    ...frame(title),
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'N', type: 'ordinal', title: 'replicas (N)', axis: { labelAngle: 0 } },
      y: { field: 'requests', type: 'quantitative', title: 'requests per replica', scale: { domain: [0, total] } },
      color: { field: 'statistic', type: 'nominal', sort: ['max', 'mean', 'min'], title: null }
    }
  }
}

/** max/mean load per N, one line per scheme. */
export function skewLines (title: string, values: Array<{ scheme: string, N: number, ratio: number }>): TopLevelSpec {
  return {
    ...frame(title, 360),
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'N', type: 'ordinal', title: 'replicas (N)', axis: { labelAngle: 0 } },
      y: { field: 'ratio', type: 'quantitative', title: 'max / mean load (1 = perfect)', scale: { zero: false } },
      color: { field: 'scheme', type: 'nominal', title: 'scheme' }
    }
  }
}

/** one value per scheme before and after the /add, as grouped bars with their values on top. */
export function phaseBars (title: string, values: Array<{ scheme: string, phase: string, value: number }>, yTitle: string, format: string): TopLevelSpec {
  const x = { field: 'scheme', type: 'nominal' as const, sort: null, title: 'scheme', axis: { labelAngle: 0 } }
  const xOffset = { field: 'phase', type: 'nominal' as const, sort: null }
  return {
    ...frame(title, 360),
    data: { values },
    encoding: { x, xOffset, y: { field: 'value', type: 'quantitative', title: yTitle } },
    layer: [
      { mark: { type: 'bar', tooltip: true }, encoding: { color: { field: 'phase', type: 'nominal', sort: null, title: null } } },
      { mark: { type: 'text', dy: -6, fontSize: 9 }, encoding: { text: { field: 'value', type: 'quantitative', format } } }
    ]
  }
}
