/** A binary min-heap: O(log n) push and pop, O(1) peek. */
export interface MinHeap<T> {
  push(item: T): void;
  peek(): T | undefined;
  pop(): T | undefined;
  readonly size: number;
}

/**
 * Creates a min-heap ordered by `less`. Give a total order (break ties) when the pop order must
 * be deterministic, e.g. to evict in the same order after a checkpoint is restored.
 */
export function createMinHeap<T>(less: (a: T, b: T) => boolean, items: Iterable<T> = []): MinHeap<T> {
  const heap: T[] = [];
  const at = (i: number) => heap[i] as T;
  const swap = (i: number, j: number) => {
    const t = at(i);
    heap[i] = at(j);
    heap[j] = t;
  };
  const up = (i: number) => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(at(i), at(parent))) return;
      swap(i, parent);
      i = parent;
    }
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let min = i;
      if (l < heap.length && less(at(l), at(min))) min = l;
      if (r < heap.length && less(at(r), at(min))) min = r;
      if (min === i) return;
      swap(i, min);
      i = min;
    }
  };

  for (const item of items) heap.push(item);
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);

  return {
    push(item) {
      heap.push(item);
      up(heap.length - 1);
    },
    peek: () => heap[0],
    pop() {
      if (heap.length === 0) return undefined;
      const top = at(0);
      const last = heap.pop() as T;
      if (heap.length > 0) {
        heap[0] = last;
        down(0);
      }
      return top;
    },
    get size() {
      return heap.length;
    },
  };
}
