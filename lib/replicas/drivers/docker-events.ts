import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import type Docker from 'dockerode'

/** One line of the engine's event stream, the fields the driver reads. */
export interface ContainerEvent {
  Action: string
  Actor: { ID: string, Attributes: Record<string, string | undefined> }
}

export interface ContainerEventsOptions {
  /** label=value filters: only events of containers carrying all of them */
  labels: string[]
  /** events to receive, e.g. die, oom */
  actions: string[]
  onEvent: (event: ContainerEvent) => void
  /** the stream is (re)connected: events in the gap before it are lost, so the caller re-lists */
  onConnect: () => void
}

const FIRST_RETRY_MS = 100
const MAX_RETRY_MS = 5000

/**
 * The engine's event stream for the driver's own containers, kept open: when
 * it breaks (engine restart, socket trouble) it reconnects with backoff, and
 * each connection starts with `onConnect` so the caller resyncs from a fresh
 * listing, as Traefik's Docker provider does.
 */
export class ContainerEvents {
  private readonly abort = new AbortController()

  constructor (private readonly docker: Docker, private readonly options: ContainerEventsOptions) {
    void this.run()
  }

  close (): void {
    this.abort.abort()
  }

  private async run (): Promise<void> {
    const { signal } = this.abort
    let retryMs = FIRST_RETRY_MS
    while (!signal.aborted) {
      try {
        const stream = await this.docker.getEvents({
          filters: { type: ['container'], event: this.options.actions, label: this.options.labels },
          abortSignal: signal
        })
        retryMs = FIRST_RETRY_MS
        this.options.onConnect()
        for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
          if (line.trim() !== '') this.options.onEvent(JSON.parse(line) as ContainerEvent)
        }
      } catch {
        // the stream or the engine is gone: retried below
      }
      if (signal.aborted) return
      await sleep(retryMs, undefined, { signal }).catch(() => {})
      retryMs = Math.min(MAX_RETRY_MS, retryMs * 2)
    }
  }
}
