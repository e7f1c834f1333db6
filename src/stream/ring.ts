/** In-memory bounded EventLog: the last `capacity` events, for resume until the detection store takes over. */
import { expected } from '../errors.js';
import type { EventLog, SequencedEvent, StreamEvent } from './events.js';

export class RingEventLog implements EventLog {
  private readonly slots: (SequencedEvent | undefined)[];
  private next = 1;
  constructor(readonly capacity: number = 10_000, firstSeq = 1) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw expected('a positive integer', 'capacity', capacity);
    if (!Number.isSafeInteger(firstSeq) || firstSeq < 1) throw expected('a positive integer', 'firstSeq', firstSeq);
    this.slots = new Array<SequencedEvent | undefined>(capacity);
    this.next = firstSeq;
  }
  append(event: StreamEvent): SequencedEvent {
    const item = { seq: this.next++, event };
    this.slots[item.seq % this.capacity] = item;
    return item;
  }
  lastSeq(): number {
    return this.next - 1;
  }
  oldestSeq(): number {
    const last = this.next - 1;
    if (last === 0) return 0;
    const held = Math.min(this.capacity, last);
    const oldest = last - held + 1;
    // the ring may have been started at firstSeq > 1
    const first = this.slots[oldest % this.capacity];
    return first && first.seq === oldest ? oldest : this.firstHeld(oldest, last);
  }
  private firstHeld(from: number, last: number): number {
    for (let s = from; s <= last; s++) if (this.slots[s % this.capacity]?.seq === s) return s;
    return 0;
  }
  async *since(afterSeq: number, untilSeq: number): AsyncIterable<SequencedEvent> {
    const oldest = this.oldestSeq();
    if (oldest === 0) return;
    for (let s = Math.max(afterSeq + 1, oldest); s <= untilSeq; s++) {
      const item = this.slots[s % this.capacity];
      if (item && item.seq === s) yield item;
    }
  }
}
