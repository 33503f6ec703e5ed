import Testing
import TradeTapCollector

/// The collector's delivery-latency histogram: quantiles are bucket upper edges,
/// never below the true value and at most ~3.1 % above it.
@Suite("Latency histogram: quantiles within one bucket of the truth")
struct LatencyHistogramTests {
  @Test func anEmptyHistogramHasNoQuantiles() {
    let histogram = LatencyHistogram()
    #expect(histogram.count == 0)
    #expect(histogram.quantile(0.5) == nil)
  }

  @Test func smallValuesAreExact() {
    let histogram = LatencyHistogram()
    for ns in [1, 2, 3, 7, 20, 31] as [UInt64] { histogram.record(nanoseconds: ns) }
    #expect(histogram.count == 6)
    #expect(histogram.quantile(0.0) == 1)
    #expect(histogram.quantile(1.0) == 31)
  }

  @Test func quantilesOfAUniformSpreadAreWithinThreePointOnePercent() {
    let histogram = LatencyHistogram()
    for microsecond in 1...10_000 as ClosedRange<UInt64> { histogram.record(nanoseconds: microsecond * 1_000) }
    for (q, truth) in [(0.5, 5_000_000.0), (0.9, 9_000_000.0), (0.99, 9_900_000.0), (0.999, 9_990_000.0)] {
      let reported = Double(histogram.quantile(q) ?? 0)
      #expect(reported >= truth * 0.999, "q\(q): \(reported) below \(truth)")
      #expect(reported <= truth * 1.032, "q\(q): \(reported) more than 3.1 % above \(truth)")
    }
  }

  @Test func aSingleOutlierDoesNotMoveTheMedian() {
    let histogram = LatencyHistogram()
    for _ in 0..<999 { histogram.record(nanoseconds: 100_000) }
    histogram.record(nanoseconds: 5_000_000_000)
    let median = histogram.quantile(0.5) ?? 0
    #expect(median >= 100_000 && median <= 103_200)
    #expect((histogram.quantile(1.0) ?? 0) >= 5_000_000_000)
  }
}
