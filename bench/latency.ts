/**
 * Sub-millisecond latency percentiles. autocannon's own histogram stores whole milliseconds, which reads as 0 or 1
 * for most local requests; this keeps every 2xx response time (fractional ms from `process.hrtime`) instead.
 */

/** Collects response times and answers percentiles (nearest-rank). */
export class LatencyRecorder {
  private values = new Float64Array(1 << 16);
  private count = 0;
  private sorted = true;
  private sum = 0;

  /**
   * Adds one response time.
   *
   * @param ms - the response time in milliseconds
   */
  record(ms: number): void {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.count++] = ms;
    this.sum += ms;
    this.sorted = false;
  }

  /** Sum of the recorded values, in milliseconds. */
  get totalMs(): number {
    return this.sum;
  }

  /** Number of recorded values. */
  get size(): number {
    return this.count;
  }

  /**
   * The nearest-rank percentile of the recorded values.
   *
   * @param p - percentile in (0, 100]
   * @returns the value at that percentile, or 0 when nothing was recorded
   */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const view = this.values.subarray(0, this.count);
    if (!this.sorted) {
      view.sort();
      this.sorted = true;
    }
    const rank = Math.min(this.count, Math.max(1, Math.ceil((p / 100) * this.count)));
    return view[rank - 1] ?? 0;
  }
}
